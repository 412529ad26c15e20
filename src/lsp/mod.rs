//! `nautes-lint lsp`: a language server over stdio.
//!
//! Every change of an open document lays the unsaved buffers over the files on disk (a [`View`]),
//! runs the same [`crate::validate`] as `check` on the whole product, and publishes each file's
//! findings; a file whose findings changed because of an edit elsewhere is published too, and a
//! file whose findings are all gone gets an empty list. Messages that arrive while one
//! validation runs are handled before the next, so a burst of keystrokes costs one validation.
//!
//! The engine keeps each check's per-file results (a [`Checkpoint`]); the next check parses only
//! the files whose buffers were opened, changed or closed since, and runs the cross-resource rules
//! over the whole model again. Listing the tree again (on save) or reloading the configuration
//! starts from scratch. Navigation (definition, references, hover, completion) reads the model of
//! the same checkpoint.

mod refs;
mod text;

use crate::cli::{Failure, SettingsArgs};
use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::{Checkpoint, Report, Settings};
use crate::model::{Kind, Model, Resource};
use crate::tree::{FsTree, MAX_FILE_BYTES, ReadError, Tree, TreeEntry};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types as lsp;
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use text::LineIndex;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct LspArgs {
    /// The repository root (default: the editor's workspace folder, or the nearest folder above
    /// it that holds `.nautes-lint.yaml` or one of Nautes' layout folders).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Where docs/rules.md is published (for instance its page on your GitLab): each
    /// diagnostic's code links to the rule's section, URL#RULE.
    /// Without it, diagnostics carry the rule id only (hover over an id in
    /// `lint.nautes.io/ignore` shows its documentation).
    #[arg(long, value_name = "URL", env = "NAUTES_LINT_RULES_URL")]
    pub rules_url: Option<String>,
    /// Accepted for editors that always pass it; stdio is the only transport.
    #[arg(long, hide = true)]
    pub stdio: bool,
}

/// Runs the server until the client says `exit` (or closes the pipe).
pub(crate) fn run(args: &LspArgs) -> Result<ExitCode, Failure> {
    let (conn, io) = Connection::stdio();
    let (id, params) = conn
        .initialize_start()
        .map_err(|e| Failure(format!("lsp: {e}")))?;
    let init: lsp::InitializeParams = match serde_json::from_value(params) {
        Ok(p) => p,
        Err(e) => {
            let msg = format!("the initialize parameters are not valid: {e}");
            refuse(&conn, id, &msg);
            drop(conn);
            let _ = io.join();
            return Err(Failure(msg));
        }
    };
    let root = pick_root(args.root.as_deref(), &init);
    let mut server = match Server::new(&conn, root, args.clone()) {
        Ok(s) => s,
        Err(msg) => {
            refuse(&conn, id, &msg);
            drop(conn);
            let _ = io.join();
            return Err(Failure(msg));
        }
    };
    let result = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": {"name": "nautes-lint", "version": env!("CARGO_PKG_VERSION")},
    });
    conn.initialize_finish(id, result)
        .map_err(|e| Failure(format!("lsp: {e}")))?;
    if let Err(msg) = &server.settings {
        server.show_error(&format!(
            "nautes-lint cannot check {}: {msg}",
            server.root.display()
        ));
    }
    let clean_exit = server.serve()?;
    drop(server);
    drop(conn);
    io.join().map_err(|e| Failure(format!("lsp: {e}")))?;
    // The protocol: exit code 0 only when `shutdown` came before `exit`.
    Ok(if clean_exit {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn refuse(conn: &Connection, id: RequestId, msg: &str) {
    let _ = conn.sender.send(Message::Response(Response::new_err(
        id,
        ErrorCode::InvalidParams as i32,
        msg.to_owned(),
    )));
}

fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(
            lsp::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lsp::TextDocumentSyncKind::FULL),
                save: Some(lsp::TextDocumentSyncSaveOptions::Supported(true)),
                ..Default::default()
            },
        )),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        completion_provider: Some(lsp::CompletionOptions::default()),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(
            lsp::CodeActionOptions {
                code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// The repository root: the flag, else the editor's first workspace folder (or its root URI),
/// else the current directory; then the nearest folder at or above it that looks like a
/// `default.project` (an editor opened on `runtimes/` still checks the whole product).
fn pick_root(flag: Option<&Path>, init: &lsp::InitializeParams) -> PathBuf {
    if let Some(r) = flag {
        return r.to_path_buf();
    }
    #[allow(deprecated)] // root_uri: older clients send only this
    let folder = init
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .map(|f| &f.uri)
        .or(init.root_uri.as_ref())
        .and_then(path_of_uri)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    folder
        .ancestors()
        .find(|d| {
            d.join(crate::config::FILE_NAME).is_file()
                || crate::tree::LAYOUT_FOLDERS
                    .iter()
                    .any(|l| d.join(l).is_dir())
        })
        .map(Path::to_path_buf)
        .unwrap_or(folder)
}

fn path_of_uri(uri: &lsp::Uri) -> Option<PathBuf> {
    url::Url::parse(uri.as_str()).ok()?.to_file_path().ok()
}

fn uri_of_path(path: &Path) -> Option<lsp::Uri> {
    url::Url::from_file_path(path).ok()?.as_str().parse().ok()
}

/// An open document.
struct Doc {
    uri: lsp::Uri,
    text: String,
}

/// The files on disk with the open buffers laid over them. A buffer of a file not on disk (a
/// new, unsaved file) joins the tree when its path is one Nautes would load.
struct View<'a> {
    disk: &'a FsTree,
    entries: Vec<TreeEntry>,
    source: Vec<Source<'a>>,
}

enum Source<'a> {
    Disk(usize),
    Buffer(&'a str),
}

impl<'a> View<'a> {
    fn new(disk: &'a FsTree, open: &'a BTreeMap<String, Doc>) -> View<'a> {
        let on_disk = disk.entries();
        let mut entries = Vec::with_capacity(on_disk.len() + open.len());
        let mut source = Vec::with_capacity(on_disk.len() + open.len());
        let mut buffers = open.iter().peekable();
        for (i, e) in on_disk.iter().enumerate() {
            while let Some((p, doc)) = buffers.next_if(|(p, _)| p.as_str() < e.path.as_str()) {
                if crate::tree::is_resource_path(p) && !disk.root().join(p).exists() {
                    entries.push(TreeEntry {
                        path: p.clone(),
                        problem: None,
                    });
                    source.push(Source::Buffer(&doc.text));
                }
            }
            match buffers.next_if(|(p, _)| **p == e.path) {
                Some((_, doc)) if e.problem.is_none() => source.push(Source::Buffer(&doc.text)),
                _ => source.push(Source::Disk(i)),
            }
            entries.push(e.clone());
        }
        for (p, doc) in buffers {
            if crate::tree::is_resource_path(p) && !disk.root().join(p).exists() {
                entries.push(TreeEntry {
                    path: p.clone(),
                    problem: None,
                });
                source.push(Source::Buffer(&doc.text));
            }
        }
        View {
            disk,
            entries,
            source,
        }
    }
}

impl Tree for View<'_> {
    fn entries(&self) -> &[TreeEntry] {
        &self.entries
    }

    fn read(&self, index: usize) -> Result<Vec<u8>, ReadError> {
        match self.source.get(index) {
            Some(Source::Disk(i)) => self.disk.read(*i),
            Some(Source::Buffer(t)) if t.len() as u64 > MAX_FILE_BYTES => {
                Err(ReadError::TooLarge(t.len() as u64))
            }
            Some(Source::Buffer(t)) => Ok(t.as_bytes().to_vec()),
            None => Err(ReadError::Io(format!("no entry {index}"))),
        }
    }
}

struct Server<'c> {
    conn: &'c Connection,
    root: PathBuf,
    args: LspArgs,
    settings: Result<Settings, String>,
    /// Texts of the cluster inventory's files (related places of cluster rules).
    inventory_sources: HashMap<Arc<str>, Arc<str>>,
    disk: FsTree,
    /// Open documents by path relative to the root.
    open: BTreeMap<String, Doc>,
    /// The last validation, when nothing changed since.
    report: Option<Report>,
    /// The per-file results of the last validation, reused by the next one for every file not
    /// in `edited`; its model serves navigation.
    checkpoint: Option<Checkpoint>,
    /// Paths whose buffer was opened, changed or closed since the checkpoint.
    edited: HashSet<String>,
    /// What each file was last sent.
    published: HashMap<String, Vec<lsp::Diagnostic>>,
    /// Files to publish after the next validation even when their findings did not change.
    announce: BTreeSet<String>,
    shutdown: bool,
}

impl<'c> Server<'c> {
    fn new(conn: &'c Connection, root: PathBuf, args: LspArgs) -> Result<Server<'c>, String> {
        let root = root
            .canonicalize()
            .map_err(|e| format!("{}: {e}", root.display()))?;
        let disk = FsTree::open(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        let mut server = Server {
            conn,
            root,
            args,
            settings: Err(String::new()),
            inventory_sources: HashMap::new(),
            disk,
            open: BTreeMap::new(),
            report: None,
            checkpoint: None,
            edited: HashSet::new(),
            published: HashMap::new(),
            announce: BTreeSet::new(),
            shutdown: false,
        };
        server.load_settings();
        Ok(server)
    }

    /// Flags and `.nautes-lint.yaml`, as `check` reads them. A configuration that cannot be read
    /// stops all checking (and says so) rather than checking with defaults.
    fn load_settings(&mut self) {
        match crate::cli::settings(&self.args.settings, &self.root) {
            Ok((settings, inventory)) => {
                self.settings = Ok(settings);
                self.inventory_sources = inventory.sources;
            }
            Err(Failure(msg)) => self.settings = Err(msg),
        }
        self.invalidate();
    }

    /// The buffer of `path` changed: the next validation checks that file again.
    fn edited(&mut self, path: String) {
        self.edited.insert(path);
        self.report = None;
    }

    /// The tree or the settings changed: the next validation checks every file.
    fn invalidate(&mut self) {
        self.checkpoint = None;
        self.edited.clear();
        self.report = None;
    }

    /// Returns whether `shutdown` came before `exit`.
    fn serve(&mut self) -> Result<bool, Failure> {
        let receiver = self.conn.receiver.clone();
        loop {
            let Ok(msg) = receiver.recv() else {
                return Ok(false);
            };
            match msg {
                Message::Request(req) => {
                    if req.method == lsp::request::Shutdown::METHOD {
                        self.shutdown = true;
                        self.reply(Response::new_ok(req.id, ()));
                        continue;
                    }
                    let resp = self.request(req);
                    self.reply(resp);
                }
                Message::Notification(n) => {
                    if n.method == lsp::notification::Exit::METHOD {
                        return Ok(self.shutdown);
                    }
                    self.notification(n);
                }
                Message::Response(_) => {}
            }
            // Validate once the queue is drained: a burst of changes costs one validation.
            if self.report.is_none() && receiver.is_empty() {
                self.validate_and_publish();
            }
        }
    }

    fn reply(&self, resp: Response) {
        let _ = self.conn.sender.send(Message::Response(resp));
    }

    fn notify<N: lsp::notification::Notification>(&self, params: N::Params) {
        let _ = self
            .conn
            .sender
            .send(Message::Notification(Notification::new(
                N::METHOD.to_owned(),
                params,
            )));
    }

    fn show_error(&self, message: &str) {
        self.notify::<lsp::notification::ShowMessage>(lsp::ShowMessageParams {
            typ: lsp::MessageType::ERROR,
            message: message.to_owned(),
        });
    }

    /// The path relative to the root of a document's URI; `None` outside the root.
    fn relative(&self, uri: &lsp::Uri) -> Option<String> {
        let path = path_of_uri(uri)?;
        // Canonical like the root, so a symlinked checkout still matches; a new file has no
        // canonical form of its own, its folder does.
        let path = path
            .canonicalize()
            .ok()
            .or_else(|| Some(path.parent()?.canonicalize().ok()?.join(path.file_name()?)))?;
        let rel = path.strip_prefix(&self.root).ok()?;
        let parts: Vec<&str> = rel
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect::<Option<_>>()?;
        Some(parts.join("/"))
    }

    fn uri(&self, path: &str) -> Option<lsp::Uri> {
        match self.open.get(path) {
            Some(doc) => Some(doc.uri.clone()),
            None => uri_of_path(&self.root.join(path)),
        }
    }

    /// The current text of a file of the tree: its buffer, else the disk.
    fn text(&self, path: &str) -> Option<String> {
        if let Some(doc) = self.open.get(path) {
            return Some(doc.text.clone());
        }
        let i = self
            .disk
            .entries()
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()?;
        String::from_utf8(self.disk.read(i).ok()?).ok()
    }

    fn notification(&mut self, n: Notification) {
        use lsp::notification as N;
        match n.method.as_str() {
            N::DidOpenTextDocument::METHOD => {
                let Ok(p) =
                    n.extract::<lsp::DidOpenTextDocumentParams>(N::DidOpenTextDocument::METHOD)
                else {
                    return;
                };
                let Some(path) = self.relative(&p.text_document.uri) else {
                    return;
                };
                if self.disk_lists_new_file(&path) {
                    self.relist();
                }
                self.open.insert(
                    path.clone(),
                    Doc {
                        uri: p.text_document.uri,
                        text: p.text_document.text,
                    },
                );
                self.announce.insert(path.clone());
                self.edited(path);
            }
            N::DidChangeTextDocument::METHOD => {
                let Ok(p) =
                    n.extract::<lsp::DidChangeTextDocumentParams>(N::DidChangeTextDocument::METHOD)
                else {
                    return;
                };
                let Some(path) = self.relative(&p.text_document.uri) else {
                    return;
                };
                let Some(doc) = self.open.get_mut(&path) else {
                    return;
                };
                for change in p.content_changes {
                    match change.range {
                        // Full sync is what we ask for; a client that sends ranges anyway is
                        // still understood.
                        Some(r) => {
                            let idx = LineIndex::new(&doc.text);
                            let (s, e) = (idx.byte_of(r.start), idx.byte_of(r.end));
                            doc.text.replace_range(s..e.max(s), &change.text);
                        }
                        None => doc.text = change.text,
                    }
                }
                self.announce.insert(path.clone());
                self.edited(path);
            }
            N::DidCloseTextDocument::METHOD => {
                let Ok(p) =
                    n.extract::<lsp::DidCloseTextDocumentParams>(N::DidCloseTextDocument::METHOD)
                else {
                    return;
                };
                if let Some(path) = self.relative(&p.text_document.uri) {
                    self.open.remove(&path);
                    self.edited(path);
                }
            }
            N::DidSaveTextDocument::METHOD => {
                let Ok(p) =
                    n.extract::<lsp::DidSaveTextDocumentParams>(N::DidSaveTextDocument::METHOD)
                else {
                    return;
                };
                let Some(path) = self.relative(&p.text_document.uri) else {
                    return;
                };
                // A save is when files made or deleted outside the editor are most likely
                // (a `git checkout`, a generator): list the tree again.
                self.relist();
                if path == crate::config::FILE_NAME {
                    self.load_settings();
                }
            }
            N::DidChangeWatchedFiles::METHOD => {
                self.relist();
                self.load_settings();
            }
            _ => {}
        }
    }

    /// A file that exists on disk but is not in the listing: it was created since.
    fn disk_lists_new_file(&self, path: &str) -> bool {
        crate::tree::is_resource_path(path)
            && self
                .disk
                .entries()
                .binary_search_by(|e| e.path.as_str().cmp(path))
                .is_err()
            && self.root.join(path).is_file()
    }

    fn relist(&mut self) {
        match FsTree::open(&self.root) {
            Ok(t) => self.disk = t,
            Err(e) => self.show_error(&format!("cannot list {}: {e}", self.root.display())),
        }
        self.invalidate();
    }

    fn validate_and_publish(&mut self) {
        let settings = match &self.settings {
            Ok(s) => s,
            Err(msg) => {
                // Fail closed: an open document says why it is not checked.
                let msg = format!(
                    "nautes-lint could not load its configuration, so nothing was checked: {msg}"
                );
                for path in std::mem::take(&mut self.announce) {
                    let Some(uri) = self.uri(&path) else { continue };
                    let d = lsp::Diagnostic {
                        range: lsp::Range::default(),
                        severity: Some(lsp::DiagnosticSeverity::ERROR),
                        source: Some("nautes-lint".into()),
                        message: msg.clone(),
                        ..Default::default()
                    };
                    self.publish(uri, vec![d.clone()]);
                    self.published.insert(path, vec![d]);
                }
                self.report = Some(Report::default());
                return;
            }
        };
        let view = View::new(&self.disk, &self.open);
        let edited = &self.edited;
        let unchanged = |p: &str| !edited.contains(p);
        let prior = self
            .checkpoint
            .take()
            .map(|c| (c, &unchanged as crate::engine::Unchanged<'_>));
        let (mut report, checkpoint) = crate::engine::validate_reusing(&view, settings, prior);
        drop(view);
        self.checkpoint = Some(checkpoint);
        self.edited.clear();
        report.add_sources(&self.inventory_sources);
        let mut now: HashMap<String, Vec<lsp::Diagnostic>> = HashMap::new();
        let mut indexes: HashMap<Arc<str>, Option<String>> = HashMap::new();
        for d in &report.diagnostics {
            let lsp_diag = self.convert(d, &report, &mut indexes);
            now.entry(d.path.to_string()).or_default().push(lsp_diag);
        }
        let mut paths: BTreeSet<String> = std::mem::take(&mut self.announce);
        paths.extend(
            now.iter()
                .filter(|(p, v)| self.published.get(*p) != Some(*v))
                .map(|(p, _)| p.clone()),
        );
        paths.extend(
            self.published
                .keys()
                .filter(|p| !now.contains_key(*p))
                .cloned(),
        );
        for path in paths {
            let diags = now.get(&path).cloned().unwrap_or_default();
            if let Some(uri) = self.uri(&path) {
                self.publish(uri, diags);
            }
        }
        self.published = now;
        self.report = Some(report);
    }

    fn publish(&self, uri: lsp::Uri, diagnostics: Vec<lsp::Diagnostic>) {
        self.notify::<lsp::notification::PublishDiagnostics>(lsp::PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        });
    }

    /// The text of `path` as the report saw it: the buffer of an open file, else the source
    /// the engine kept (it keeps those of every file a diagnostic points at).
    fn report_text(&self, path: &str, report: &Report) -> Option<String> {
        match self.open.get(path) {
            Some(doc) => Some(doc.text.clone()),
            None => report.sources.get(path).map(|t| t.to_string()),
        }
    }

    fn range_in(
        &self,
        path: &Arc<str>,
        span: crate::yaml::Span,
        report: &Report,
        texts: &mut HashMap<Arc<str>, Option<String>>,
    ) -> lsp::Range {
        let text = texts
            .entry(path.clone())
            .or_insert_with(|| self.report_text(path, report));
        // Without the text (a file that vanished), columns are taken as they are.
        match text {
            Some(t) => LineIndex::new(t).range(span),
            None => LineIndex::new("").range(span),
        }
    }

    fn convert(
        &self,
        d: &Diagnostic,
        report: &Report,
        texts: &mut HashMap<Arc<str>, Option<String>>,
    ) -> lsp::Diagnostic {
        let range = self.range_in(&d.path, d.span, report, texts);
        let related: Vec<lsp::DiagnosticRelatedInformation> = d
            .related
            .iter()
            // Places in a base revision or another repository are not files the editor can open.
            .filter(|r| r.origin == crate::diagnostic::Origin::Here)
            .filter_map(|r| {
                // A tree path (an open document keeps the client's URI) or an inventory file.
                let uri = self.uri(&r.path)?;
                let range = self.range_in(&r.path, r.span, report, texts);
                Some(lsp::DiagnosticRelatedInformation {
                    location: lsp::Location { uri, range },
                    message: r.message.clone(),
                })
            })
            .collect();
        let message = match &d.help {
            Some(h) => format!("{}\nhelp: {h}", d.message),
            None => d.message.clone(),
        };
        lsp::Diagnostic {
            range,
            severity: Some(match d.severity {
                Severity::Error => lsp::DiagnosticSeverity::ERROR,
                Severity::Warning => lsp::DiagnosticSeverity::WARNING,
            }),
            code: Some(lsp::NumberOrString::String(d.rule.id.to_owned())),
            code_description: self.rule_link(d.rule.id),
            source: Some("nautes-lint".into()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            ..Default::default()
        }
    }

    fn rule_link(&self, rule: &str) -> Option<lsp::CodeDescription> {
        let base = self.args.rules_url.as_deref()?;
        let href = format!("{}#{}", base.trim_end_matches('#'), rule_anchor(rule))
            .parse()
            .ok()?;
        Some(lsp::CodeDescription { href })
    }

    /// The model of the current buffers (validating first when something changed).
    fn model(&mut self) -> Option<&Model> {
        if self.report.is_none() {
            self.validate_and_publish();
        }
        self.checkpoint.as_ref().map(Checkpoint::model)
    }

    fn request(&mut self, req: Request) -> Response {
        use lsp::request as R;
        let id = req.id.clone();
        let result = match req.method.as_str() {
            R::GotoDefinition::METHOD => self.handle::<R::GotoDefinition>(req, Self::definition),
            R::References::METHOD => self.handle::<R::References>(req, Self::references),
            R::HoverRequest::METHOD => self.handle::<R::HoverRequest>(req, Self::hover),
            R::Completion::METHOD => self.handle::<R::Completion>(req, Self::completion),
            R::CodeActionRequest::METHOD => {
                self.handle::<R::CodeActionRequest>(req, Self::code_actions)
            }
            _ => {
                return Response::new_err(
                    id,
                    ErrorCode::MethodNotFound as i32,
                    format!("nautes-lint does not handle `{}`", req.method),
                );
            }
        };
        match result {
            Ok(v) => Response::new_ok(id, v),
            Err(msg) => Response::new_err(id, ErrorCode::InvalidParams as i32, msg),
        }
    }

    fn handle<R: lsp::request::Request>(
        &mut self,
        req: Request,
        f: impl FnOnce(&mut Self, R::Params) -> R::Result,
    ) -> Result<serde_json::Value, String> {
        let (_, params) = req
            .extract::<R::Params>(R::METHOD)
            .map_err(|e| format!("{e:?}"))?;
        serde_json::to_value(f(self, params)).map_err(|e| e.to_string())
    }

    /// The document's resource and the reference (or the resource's own name) at `pos`.
    fn at(&self, uri: &lsp::Uri, pos: lsp::Position) -> Option<(String, String, Resource, At)> {
        let path = self.relative(uri)?;
        let text = self.text(&path)?;
        let r = refs::resource_of(&text)?;
        let idx = LineIndex::new(&text);
        let at = refs::references(&r)
            .into_iter()
            .find(|(s, _)| text::contains(&idx.range(s.span), pos))
            .map(|(s, kind)| At::Reference(kind, s.value.clone(), idx.range(s.span)))
            .or_else(|| {
                text::contains(&idx.range(r.name.span), pos)
                    .then(|| At::Name(r.kind, r.name.value.clone()))
            })?;
        Some((path, text, r, at))
    }

    /// The location of a resource's name in its file.
    fn location_of(&self, model: &Model, r: &Resource) -> Option<lsp::Location> {
        let path = model.path(r);
        let text = self.text(path)?;
        Some(lsp::Location {
            uri: self.uri(path)?,
            range: LineIndex::new(&text).range(r.name.span),
        })
    }

    fn definition(&mut self, p: lsp::GotoDefinitionParams) -> Option<lsp::GotoDefinitionResponse> {
        let pp = p.text_document_position_params;
        let (_, _, _, At::Reference(kind, name, _)) =
            self.at(&pp.text_document.uri, pp.position)?
        else {
            return None;
        };
        self.model()?;
        let model = self.checkpoint.as_ref()?.model();
        let target = refs::target(model, kind, &name)?;
        self.location_of(model, target)
            .map(lsp::GotoDefinitionResponse::Scalar)
    }

    fn references(&mut self, p: lsp::ReferenceParams) -> Option<Vec<lsp::Location>> {
        let pp = p.text_document_position;
        let (_, _, _, at) = self.at(&pp.text_document.uri, pp.position)?;
        let (kind, name) = match at {
            At::Reference(kind, name, _) | At::Name(kind, name) => (kind, name),
        };
        self.model()?;
        let model = self.checkpoint.as_ref()?.model();
        // A code repo named by its GitLab name is the same code repo.
        let target = refs::target(model, kind, &name);
        let mut out = Vec::new();
        if p.context.include_declaration
            && let Some(t) = target
        {
            out.extend(self.location_of(model, t));
        }
        let mut texts: HashMap<u32, Option<String>> = HashMap::new();
        for r in &model.resources {
            for (s, k) in refs::references(r) {
                let same = k == kind
                    && (s.value == name
                        || target.is_some_and(|t| {
                            refs::target(model, k, &s.value).is_some_and(|o| std::ptr::eq(o, t))
                        }));
                if !same {
                    continue;
                }
                let path = model.path(r);
                let text = texts.entry(r.file).or_insert_with(|| self.text(path));
                if let (Some(t), Some(uri)) = (text.as_deref(), self.uri(path)) {
                    out.push(lsp::Location {
                        uri,
                        range: LineIndex::new(t).range(s.span),
                    });
                }
            }
        }
        Some(out)
    }

    fn hover(&mut self, p: lsp::HoverParams) -> Option<lsp::Hover> {
        let pp = p.text_document_position_params;
        let path = self.relative(&pp.text_document.uri)?;
        let text = self.text(&path)?;
        let idx = LineIndex::new(&text);
        let r = refs::resource_of(&text);
        // A rule id in `lint.nautes.io/ignore`: the rule's documentation.
        if let Some(ignore) = r.as_ref().and_then(|r| r.ignore.as_ref())
            && text::contains(&idx.range(ignore.span), pp.position)
            && let Some((word, range)) = word_at(&idx, pp.position)
            && let Some(doc) = crate::rules::doc(&word)
        {
            return Some(markdown(format!("**{word}**\n\n{doc}"), range));
        }
        let (_, _, _, At::Reference(kind, name, range)) =
            self.at(&pp.text_document.uri, pp.position)?
        else {
            return None;
        };
        self.model()?;
        let model = self.checkpoint.as_ref()?.model();
        let line = match refs::target(model, kind, &name) {
            Some(t) => format!("{} `{}` — {}", t.kind, t.name.value, summary(model, t)),
            None => format!("{kind} `{name}` does not exist"),
        };
        Some(markdown(line, range))
    }

    fn completion(&mut self, p: lsp::CompletionParams) -> Option<lsp::CompletionResponse> {
        let pp = p.text_document_position;
        let path = self.relative(&pp.text_document.uri)?;
        let text = self.text(&path)?;
        let idx = LineIndex::new(&text);
        let before = idx.line_before(pp.position);
        let above: Vec<&str> = (pp.position.line.saturating_sub(200)..pp.position.line)
            .map(|l| idx.line_text(l))
            .collect();
        let holder = text
            .lines()
            .find_map(|l| l.strip_prefix("kind:"))
            .and_then(|k| Kind::parse(k.trim()));
        let (key, typed) = refs::key_at(&above, before)?;
        let kind = refs::kind_of_key(key, holder)?;
        let start = lsp::Position::new(
            pp.position.line,
            pp.position
                .character
                .saturating_sub(typed.chars().map(char::len_utf16).sum::<usize>() as u32),
        );
        let range = lsp::Range::new(start, pp.position);
        self.model()?;
        let model = self.checkpoint.as_ref()?.model();
        let mut names: Vec<&str> = model.names(kind).collect();
        names.sort_unstable();
        let items = names
            .into_iter()
            .map(|n| lsp::CompletionItem {
                label: n.to_owned(),
                kind: Some(lsp::CompletionItemKind::REFERENCE),
                detail: Some(kind.to_string()),
                text_edit: Some(lsp::CompletionTextEdit::Edit(lsp::TextEdit {
                    range,
                    new_text: n.to_owned(),
                })),
                ..Default::default()
            })
            .collect();
        Some(lsp::CompletionResponse::Array(items))
    }

    fn code_actions(&mut self, p: lsp::CodeActionParams) -> Option<lsp::CodeActionResponse> {
        let uri = p.text_document.uri;
        let path = self.relative(&uri)?;
        if self.report.is_none() {
            self.validate_and_publish();
        }
        let text = self.text(&path)?;
        let idx = LineIndex::new(&text);
        let report = self.report.take()?;
        let mut texts = HashMap::new();
        let mut out = Vec::new();
        let doc_resource = refs::resource_of(&text);
        for d in report.diagnostics.iter().filter(|d| *d.path == *path) {
            let range = idx.range(d.span);
            if range.end < p.range.start || p.range.end < range.start {
                continue;
            }
            let lsp_diag = self.convert(d, &report, &mut texts);
            let edit = |edits: Vec<lsp::TextEdit>| lsp::WorkspaceEdit {
                changes: Some(HashMap::from([(uri.clone(), edits)])),
                ..Default::default()
            };
            if d.fix.is_some() {
                let edits: Vec<lsp::TextEdit> = crate::fix::edits(&report, &d.path, &text, &[d])
                    .into_iter()
                    .map(|e| lsp::TextEdit {
                        range: lsp::Range::new(
                            idx.position_of_byte(e.range.start),
                            idx.position_of_byte(e.range.end),
                        ),
                        new_text: e.replacement,
                    })
                    .collect();
                if !edits.is_empty() {
                    out.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                        title: format!("Fix {}", d.rule),
                        kind: Some(lsp::CodeActionKind::QUICKFIX),
                        diagnostics: Some(vec![lsp_diag.clone()]),
                        edit: Some(edit(edits)),
                        is_preferred: Some(true),
                        ..Default::default()
                    }));
                }
            }
            let missing = doc_resource.as_ref().and_then(|r| {
                refs::references(r)
                    .into_iter()
                    .find(|(s, _)| s.span == d.span)
                    .map(|(s, k)| (k, s.value.clone()))
            });
            if let Some((kind, wrong)) = missing
                && d.rule.id.ends_with("-not-found")
                && let Some(name) = self.suggestion(kind, &wrong)
            {
                let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
                let bom = text.len() - body.len();
                let bytes = d.span.byte_range(body);
                let src = &body[bytes.clone()];
                // Keep the quotes a quoted name was written with.
                let new_text = match src.chars().next() {
                    Some(q @ ('"' | '\'')) if src.len() > 1 && src.ends_with(q) => {
                        format!("{q}{name}{q}")
                    }
                    _ => name.clone(),
                };
                let range = lsp::Range::new(
                    idx.position_of_byte(bytes.start + bom),
                    idx.position_of_byte(bytes.end + bom),
                );
                out.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                    title: format!("Replace `{wrong}` with `{name}`"),
                    kind: Some(lsp::CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![lsp_diag]),
                    edit: Some(edit(vec![lsp::TextEdit { range, new_text }])),
                    is_preferred: Some(true),
                    ..Default::default()
                }));
            }
        }
        self.report = Some(report);
        Some(out)
    }

    /// The name a missing reference most likely meant, as the `*-not-found` rules suggest it:
    /// a code repo's id for its GitLab name, else the closest existing name.
    fn suggestion(&self, kind: Kind, wrong: &str) -> Option<String> {
        // Called while the report is out of `self`: the checkpoint is the current one.
        let model = self.checkpoint.as_ref()?.model();
        if kind == Kind::CodeRepo
            && let Some(r) = model.code_repo_by_repo_name(wrong)
        {
            return Some(r.name.value.clone());
        }
        model.suggest(kind, wrong)
    }
}

/// What is under the cursor.
enum At {
    /// A reference to a resource of a kind, by name, with its range.
    Reference(Kind, String, lsp::Range),
    /// The resource's own `metadata.name`.
    Name(Kind, String),
}

/// One line about a resource: its file and what it points at.
fn summary(model: &Model, r: &Resource) -> String {
    let mut parts = vec![format!("`{}`", model.path(r))];
    let refs: Vec<String> = refs::references(r)
        .into_iter()
        .map(|(s, k)| format!("{k} `{}`", s.value))
        .collect();
    if !refs.is_empty() {
        parts.push(format!("uses {}", refs.join(", ")));
    }
    if let Some(c) = r.env().and_then(|e| e.cluster.as_ref()) {
        parts.push(format!("cluster `{}`", c.value));
    }
    parts.join("; ")
}

/// The anchor GitHub and GitLab give the heading `## RULE` of docs/rules.md: punctuation other
/// than `-` and `_` is dropped (`yaml-1.1-ambiguity` -> `yaml-11-ambiguity`).
fn rule_anchor(rule: &str) -> String {
    rule.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn markdown(value: String, range: lsp::Range) -> lsp::Hover {
    lsp::Hover {
        contents: lsp::HoverContents::Markup(lsp::MarkupContent {
            kind: lsp::MarkupKind::Markdown,
            value,
        }),
        range: Some(range),
    }
}

/// The rule-id-like word (letters, digits, `-`, `.`) at `pos`, with its range.
fn word_at(idx: &LineIndex<'_>, pos: lsp::Position) -> Option<(String, lsp::Range)> {
    let line = idx.line_text(pos.line);
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let at = idx.byte_of(pos) - idx.byte_of(lsp::Position::new(pos.line, 0));
    let start = line[..at].rfind(|c: char| !is_word(c)).map_or(0, |i| i + 1);
    let end = line[at..]
        .find(|c: char| !is_word(c))
        .map_or(line.len(), |i| at + i);
    if start >= end {
        return None;
    }
    let line_start = idx.byte_of(lsp::Position::new(pos.line, 0));
    Some((
        line[start..end].to_owned(),
        lsp::Range::new(
            idx.position_of_byte(line_start + start),
            idx.position_of_byte(line_start + end),
        ),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rule_anchors_are_the_headings_slugs() {
        assert_eq!(
            super::rule_anchor("yaml-1.1-ambiguity"),
            "yaml-11-ambiguity"
        );
        assert_eq!(
            super::rule_anchor("dr-environment-not-found"),
            "dr-environment-not-found"
        );
    }
}
