//! YAML with positions.
//!
//! Files are parsed with `saphyr-parser`'s event stream into a small tree of our own in which every
//! node and every mapping key keeps its span. Building the tree ourselves (rather than using
//! `saphyr::MarkedYamlOwned`) gives us what a linter needs and a loader does not: both places of a
//! duplicate key, the scalar style (YAML 1.1 ambiguity is only a problem for plain scalars),
//! explicit limits on nesting depth and alias expansion, and a tree that is dropped without
//! recursion past the depth limit.
//!
//! `Node::to_json` turns a document into a `serde_json::Value` for schema validation, and
//! `Node::pointer` maps a JSON pointer back to the node's span, so a schema error points at the
//! node at fault.

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};
use std::collections::HashMap;

/// Deepest nesting accepted. Kubernetes resources are rarely deeper than ten levels; the limit
/// keeps every recursive walk (JSON conversion, schema validation, drop) far from the stack's end.
pub const MAX_DEPTH: usize = 128;
/// Most nodes one file may expand to, aliases included: a "billion laughs" file stops here.
pub const MAX_NODES: usize = 200_000;

/// A position in a source text. `index` counts characters (as saphyr does); `line` is 1-based,
/// `col` 0-based in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Pos {
    pub index: u32,
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    /// A span covering the first `len` characters of line 1 (whole-file findings).
    pub fn file_start() -> Span {
        let start = Pos {
            index: 0,
            line: 1,
            col: 0,
        };
        Span { start, end: start }
    }

    /// The bytes of `text` this span covers (spans count characters, as saphyr does).
    pub fn byte_range(&self, text: &str) -> std::ops::Range<usize> {
        let (s, e) = self.char_range();
        char_to_byte(text, s)..char_to_byte(text, e)
    }

    /// The half-open character range (the end never before the start).
    pub fn char_range(&self) -> (usize, usize) {
        let start = self.start.index as usize;
        let end = (self.end.index as usize).max(start);
        (start, end)
    }
}

fn pos(m: &saphyr_parser::Marker) -> Pos {
    let clamp = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    Pos {
        index: clamp(m.index()),
        line: clamp(m.line()),
        col: clamp(m.col()),
    }
}

fn span(s: &saphyr_parser::Span) -> Span {
    Span {
        start: pos(&s.start),
        end: pos(&s.end),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

/// A scalar resolved with the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Scalar {
        value: Scalar,
        text: String,
        style: Style,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub span: Span,
    pub kind: NodeKind,
}

/// Something wrong with the YAML itself, found while building the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum YamlIssue {
    Syntax {
        span: Span,
        message: String,
    },
    DuplicateKey {
        key: String,
        /// JSON pointer of the repeated key (`/spec/envType`): where it is, without a line
        /// number, so its finding keeps its fingerprint when lines above it move.
        pointer: String,
        first: Span,
        second: Span,
    },
}

/// A JSON pointer token for a mapping key (RFC 6901: `~` and `/` escaped).
pub fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// One file's documents and the problems found on the way.
#[derive(Debug, Default)]
pub struct Parsed {
    pub documents: Vec<Document>,
    pub issues: Vec<YamlIssue>,
}

#[derive(Debug)]
pub struct Document {
    /// Span of the explicit `---` marker, or of the first token.
    pub start: Span,
    pub root: Node,
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The string value of a scalar that resolved to a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar {
                value: Scalar::Str(s),
                ..
            } => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(
            self.kind,
            NodeKind::Scalar {
                value: Scalar::Null,
                ..
            }
        )
    }

    /// Follows a JSON pointer (RFC 6901) from this node: every node on the way, root first, each
    /// with the span of the key that introduces it (`None` for the root and sequence items).
    /// `None` when the pointer leads nowhere. `""` is the root alone.
    pub fn resolve(&self, pointer: &str) -> Option<Vec<(&Node, Option<Span>)>> {
        let mut path = vec![(self, None)];
        if pointer.is_empty() {
            return Some(path);
        }
        for raw in pointer.strip_prefix('/')?.split('/') {
            let token = raw.replace("~1", "/").replace("~0", "~");
            let (node, _) = path[path.len() - 1];
            let step = match &node.kind {
                NodeKind::Map(entries) => {
                    let e = entries.iter().rev().find(|e| e.key == token)?;
                    (&e.value, Some(e.key_span))
                }
                NodeKind::Seq(items) => (items.get(token.parse::<usize>().ok()?)?, None),
                NodeKind::Scalar { .. } => return None,
            };
            path.push(step);
        }
        Some(path)
    }

    /// The span a finding about the node at `pointer` should carry: the node itself for a scalar
    /// or a flow collection on one line, otherwise the key that introduces it (underlining a
    /// whole block is noise).
    pub fn pointer_span(&self, pointer: &str) -> Option<Span> {
        let path = self.resolve(pointer)?;
        let (node, key_span) = path[path.len() - 1];
        Some(node.finding_span(key_span))
    }

    /// The span to show for this node, given the span of the key that introduces it, if any.
    pub fn finding_span(&self, key_span: Option<Span>) -> Span {
        let one_line = self.span.start.line == self.span.end.line;
        match (&self.kind, key_span) {
            (NodeKind::Scalar { .. }, _) => self.span,
            (_, Some(k)) if !one_line => k,
            (_, None) if !one_line => Span {
                start: self.span.start,
                end: self.span.start,
            },
            _ => self.span,
        }
    }

    /// The JSON value of this node, for schema validation.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Scalar { value, text, .. } => match value {
                Scalar::Null => Value::Null,
                Scalar::Bool(b) => Value::Bool(*b),
                Scalar::Int(i) => Value::from(*i),
                Scalar::Float(f) => serde_json::Number::from_f64(*f)
                    .map(Value::Number)
                    // NaN and infinities have no JSON form; the text keeps a type error readable.
                    .unwrap_or_else(|| Value::String(text.clone())),
                Scalar::Str(s) => Value::String(s.clone()),
            },
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => {
                let mut map = serde_json::Map::with_capacity(entries.len());
                for e in entries {
                    map.insert(e.key.clone(), e.value.to_json());
                }
                Value::Object(map)
            }
        }
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema.
pub fn resolve_plain(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Scalar::Int(i);
        }
        return Scalar::Float(text.parse::<f64>().unwrap_or(f64::NAN));
    }
    if let Some(oct) = text.strip_prefix("0o")
        && !oct.is_empty()
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Scalar::Int(i);
    }
    if let Some(hex) = text.strip_prefix("0x")
        && !hex.is_empty()
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Scalar::Int(i);
    }
    if is_core_float(unsigned)
        && let Ok(f) = text.parse::<f64>()
    {
        return Scalar::Float(f);
    }
    Scalar::Str(text.to_owned())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float without its sign.
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = digits(0);
    let int_digits = i;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac_digits = digits(i);
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp = digits(i);
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

/// What Go's YAML 1.1 decoder (used by Kubernetes) makes of a plain scalar that YAML 1.2 reads as
/// a string: `Some("a boolean")` for `yes`/`on`/..., `Some("a number")` for octal, binary,
/// sexagesimal or underscored numbers, `None` when both agree it is a string.
pub fn yaml11_reading(text: &str) -> Option<&'static str> {
    const BOOLS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    if BOOLS.contains(&text) {
        return Some("a boolean");
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let digits_or_underscore = |s: &str, radix: u32| {
        !s.is_empty()
            && s.chars().any(|c| c.is_digit(radix))
            && s.chars().all(|c| c == '_' || c.is_digit(radix))
    };
    let number = unsigned
        .strip_prefix("0b")
        .is_some_and(|r| digits_or_underscore(r, 2))
        || unsigned
            .strip_prefix("0x")
            .is_some_and(|r| digits_or_underscore(r, 16))
        || (unsigned.starts_with(|c: char| c.is_ascii_digit())
            && digits_or_underscore(unsigned, 10))
        || is_sexagesimal(unsigned)
        || (unsigned.contains('_') && is_core_float(&unsigned.replace('_', "")));
    number.then_some("a number")
}

/// `[1-9][0-9_]*(:[0-5]?[0-9])+`, YAML 1.1's base 60 integers (`1:30` is 90).
fn is_sexagesimal(s: &str) -> bool {
    let mut parts = s.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    let head_ok = head.starts_with(|c: char| ('1'..='9').contains(&c))
        && head.chars().all(|c| c.is_ascii_digit() || c == '_');
    let mut rest = 0;
    for p in parts {
        rest += 1;
        let ok = (1..=2).contains(&p.len())
            && p.chars().all(|c| c.is_ascii_digit())
            && (p.len() == 1 || p.as_bytes()[0] <= b'5');
        if !ok {
            return false;
        }
    }
    head_ok && rest > 0
}

enum Frame {
    Seq {
        start: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: Span,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Span)>,
        seen: Option<HashMap<String, usize>>,
    },
}

/// The JSON pointer of `key` in a mapping opened inside `enclosing`: each enclosing mapping's
/// pending key and each enclosing sequence's next index.
fn pointer_in(enclosing: &[Frame], key: &str) -> String {
    let mut pointer = String::new();
    for frame in enclosing {
        pointer.push('/');
        match frame {
            Frame::Seq { items, .. } => pointer.push_str(&items.len().to_string()),
            Frame::Map { key, .. } => {
                pointer.push_str(&pointer_token(key.as_ref().map_or("", |(k, _)| k)))
            }
        }
    }
    pointer.push('/');
    pointer.push_str(&pointer_token(key));
    pointer
}

/// Builds the tree from the event stream, enforcing the depth and node limits.
struct Builder {
    stack: Vec<Frame>,
    /// Anchored nodes and how many nodes each expands to.
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    issues: Vec<YamlIssue>,
}

/// Maps with more entries than this get a hash index for the duplicate-key check, so a huge
/// mapping costs linear time rather than quadratic.
const LINEAR_KEY_SCAN: usize = 16;

impl Builder {
    fn count(node: &Node) -> usize {
        // Iterative: called on alias targets, which are bounded by MAX_DEPTH anyway.
        let mut n = 0;
        let mut todo = vec![node];
        while let Some(x) = todo.pop() {
            n += 1;
            match &x.kind {
                NodeKind::Seq(items) => todo.extend(items),
                NodeKind::Map(entries) => todo.extend(entries.iter().map(|e| &e.value)),
                NodeKind::Scalar { .. } => {}
            }
        }
        n
    }

    fn charge(&mut self, n: usize, at: Span) -> Result<(), YamlIssue> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(YamlIssue::Syntax {
                span: at,
                message: format!(
                    "the document expands to more than {MAX_NODES} nodes (an alias bomb?); refusing to read further"
                ),
            });
        }
        Ok(())
    }

    /// Adds a finished node to the open collection, or returns it when it is a document root.
    fn push(&mut self, node: Node, anchor: usize) -> Result<Option<Node>, YamlIssue> {
        if anchor != 0 {
            let n = Self::count(&node);
            self.anchors.insert(anchor, (node.clone(), n));
        }
        match self.stack.split_last_mut() {
            None => Ok(Some(node)),
            Some((Frame::Seq { items, .. }, _)) => {
                items.push(node);
                Ok(None)
            }
            Some((
                Frame::Map {
                    entries, key, seen, ..
                },
                enclosing,
            )) => match key.take() {
                None => match &node.kind {
                    NodeKind::Scalar { value, text, .. } => {
                        let k = match value {
                            Scalar::Str(s) => s.clone(),
                            _ => text.clone(),
                        };
                        *key = Some((k, node.span));
                        Ok(None)
                    }
                    _ => Err(YamlIssue::Syntax {
                        span: node.finding_span(None),
                        message:
                            "a mapping or sequence used as a key is not supported by Kubernetes"
                                .into(),
                    }),
                },
                Some((k, key_span)) => {
                    let previous = match seen {
                        Some(index) => index.get(&k).copied(),
                        None => entries.iter().position(|e| e.key == k),
                    };
                    if let Some(i) = previous {
                        let pointer = pointer_in(enclosing, &k);
                        self.issues.push(YamlIssue::DuplicateKey {
                            key: k.clone(),
                            pointer,
                            first: entries[i].key_span,
                            second: key_span,
                        });
                        // Go's decoder keeps the last value; mirror it so later rules see what
                        // the cluster would see.
                        entries[i] = Entry {
                            key: k,
                            key_span,
                            value: node,
                        };
                        return Ok(None);
                    }
                    if let Some(index) = seen {
                        index.insert(k.clone(), entries.len());
                    } else if entries.len() >= LINEAR_KEY_SCAN {
                        let mut index: HashMap<String, usize> = entries
                            .iter()
                            .enumerate()
                            .map(|(i, e)| (e.key.clone(), i))
                            .collect();
                        index.insert(k.clone(), entries.len());
                        *seen = Some(index);
                    }
                    entries.push(Entry {
                        key: k,
                        key_span,
                        value: node,
                    });
                    Ok(None)
                }
            },
        }
    }

    fn open(&mut self, frame: Frame, at: Span) -> Result<(), YamlIssue> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlIssue::Syntax {
                span: at,
                message: format!(
                    "nesting deeper than {MAX_DEPTH} levels; refusing to read further"
                ),
            });
        }
        self.charge(1, at)?;
        self.stack.push(frame);
        Ok(())
    }
}

/// Parses every document of a file. Never panics; problems become `issues`.
pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut parser = Parser::new_from_str(text);
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        issues: Vec::new(),
    };
    let mut doc_start = Span::file_start();
    let result: Result<(), YamlIssue> = (|| {
        while let Some(ev) = parser.next_event() {
            let (event, sp) = ev.map_err(|e: ScanError| {
                let p = pos(e.marker());
                YamlIssue::Syntax {
                    span: Span { start: p, end: p },
                    message: e.info().to_owned(),
                }
            })?;
            let sp = span(&sp);
            let done = match event {
                Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
                Event::DocumentStart(_) => {
                    doc_start = sp;
                    b.anchors.clear();
                    None
                }
                Event::Alias(id) => {
                    let Some((node, n)) = b.anchors.get(&id).cloned() else {
                        return Err(YamlIssue::Syntax {
                            span: sp,
                            message: "unknown alias".into(),
                        });
                    };
                    b.charge(n, sp)?;
                    // The alias stands where it is written: point findings at it.
                    let node = Node {
                        span: sp,
                        kind: node.kind,
                    };
                    b.push(node, 0)?
                }
                Event::Scalar(value, style, anchor, tag) => {
                    b.charge(1, sp)?;
                    let forced_str = tag
                        .as_ref()
                        .is_some_and(|t| t.suffix == "str" || t.suffix.ends_with(":str"));
                    let (value, style) = match style {
                        ScalarStyle::Plain if !forced_str => (resolve_plain(&value), Style::Plain),
                        ScalarStyle::Plain => (Scalar::Str(value.to_string()), Style::Plain),
                        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                            (Scalar::Str(value.to_string()), Style::Quoted)
                        }
                        _ => (Scalar::Str(value.to_string()), Style::Block),
                    };
                    let text = value_text(&value);
                    b.push(
                        Node {
                            span: sp,
                            kind: NodeKind::Scalar { value, text, style },
                        },
                        anchor,
                    )?
                }
                Event::SequenceStart(anchor, _) => {
                    b.open(
                        Frame::Seq {
                            start: sp,
                            anchor,
                            items: Vec::new(),
                        },
                        sp,
                    )?;
                    None
                }
                Event::MappingStart(anchor, _) => {
                    b.open(
                        Frame::Map {
                            start: sp,
                            anchor,
                            entries: Vec::new(),
                            key: None,
                            seen: None,
                        },
                        sp,
                    )?;
                    None
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(frame) = b.stack.pop() else {
                        return Err(YamlIssue::Syntax {
                            span: sp,
                            message: "unbalanced collection end".into(),
                        });
                    };
                    let (start, anchor, kind) = match frame {
                        Frame::Seq {
                            start,
                            anchor,
                            items,
                        } => (start, anchor, NodeKind::Seq(items)),
                        Frame::Map {
                            start,
                            anchor,
                            entries,
                            ..
                        } => (start, anchor, NodeKind::Map(entries)),
                    };
                    let node = Node {
                        span: Span {
                            start: start.start,
                            end: sp.end.max(start.end),
                        },
                        kind,
                    };
                    b.push(node, anchor)?
                }
            };
            if let Some(root) = done {
                out.documents.push(Document {
                    start: doc_start,
                    root,
                });
            }
        }
        Ok(())
    })();
    out.issues = b.issues;
    if let Err(issue) = result {
        out.issues.push(issue);
    }
    out
}

fn value_text(value: &Scalar) -> String {
    // Keep the source text only where it differs from the value's own rendering; plain strings are
    // the common case and carry their text in the value already.
    match value {
        Scalar::Str(_) => String::new(),
        Scalar::Null => "null".into(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => f.to_string(),
    }
}

/// Converts character positions to byte offsets in `text` (the renderer works in bytes).
pub fn char_to_byte(text: &str, char_index: usize) -> usize {
    if text.is_ascii() {
        return char_index.min(text.len());
    }
    text.char_indices()
        .nth(char_index)
        .map_or(text.len(), |(b, _)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let p = parse(text);
        assert!(p.issues.is_empty(), "{:?}", p.issues);
        assert_eq!(p.documents.len(), 1);
        p.documents.into_iter().next().unwrap().root
    }

    #[test]
    fn spans_in_block_style() {
        let root = one("a: 1\nspec:\n  destination: env-dev\n");
        let s = root.pointer_span("/spec/destination").unwrap();
        assert_eq!((s.start.line, s.start.col, s.end.col), (3, 15, 22));
        // A block mapping is pointed at by its key.
        let s = root.pointer_span("/spec").unwrap();
        assert_eq!((s.start.line, s.start.col), (2, 0));
    }

    #[test]
    fn spans_in_flow_style() {
        let root = one("metadata: {name: env-dev}\nspec: {cluster: c1, envType: dev}\n");
        let s = root.pointer_span("/spec/envType").unwrap();
        assert_eq!((s.start.line, s.start.col, s.end.col), (2, 29, 32));
        let s = root.pointer_span("/spec").unwrap();
        assert_eq!((s.start.line, s.start.col), (2, 6));
    }

    #[test]
    fn multibyte_characters_before_the_node() {
        let text = "# é日本\nname: \"ü\"\nvalue: x\n";
        let root = one(text);
        let s = root.pointer_span("/value").unwrap();
        assert_eq!((s.start.line, s.start.col), (3, 7));
        let byte = char_to_byte(text, s.start.index as usize);
        assert_eq!(&text[byte..byte + 1], "x");
    }

    #[test]
    fn comments_do_not_shift_positions() {
        let root = one("# top\nkey: value # trailing\n# between\nother: [a, b] # x\n");
        let s = root.pointer_span("/other/1").unwrap();
        assert_eq!((s.start.line, s.start.col), (4, 11));
        assert_eq!(root.get("key").unwrap().as_str(), Some("value"));
    }

    #[test]
    fn anchors_and_aliases_expand_and_point_at_the_alias() {
        let root = one("base: &b {x: 1}\ncopy: *b\n");
        assert_eq!(
            root.to_json(),
            serde_json::json!({"base": {"x": 1}, "copy": {"x": 1}})
        );
        let s = root.pointer_span("/copy").unwrap();
        assert_eq!((s.start.line, s.start.col), (2, 6));
    }

    #[test]
    fn duplicate_keys_keep_both_places_and_the_last_value() {
        let p = parse("a: 1\nb: 2\na: 3\n");
        assert_eq!(
            p.documents[0].root.to_json(),
            serde_json::json!({"a": 3, "b": 2})
        );
        match &p.issues[..] {
            [
                YamlIssue::DuplicateKey {
                    key,
                    pointer,
                    first,
                    second,
                },
            ] => {
                assert_eq!(key, "a");
                assert_eq!(pointer, "/a");
                assert_eq!((first.start.line, second.start.line), (1, 3));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicate_keys_in_a_large_mapping() {
        let mut text: String = (0..100).map(|i| format!("k{i}: {i}\n")).collect();
        text.push_str("k50: again\n");
        let p = parse(&text);
        assert!(matches!(&p.issues[..], [YamlIssue::DuplicateKey { key, .. }] if key == "k50"));
    }

    #[test]
    fn core_schema_resolution() {
        assert_eq!(resolve_plain("yes"), Scalar::Str("yes".into()));
        assert_eq!(resolve_plain("0755"), Scalar::Int(755));
        assert_eq!(resolve_plain("1e3"), Scalar::Float(1000.0));
        assert_eq!(resolve_plain("0x1F"), Scalar::Int(31));
        assert_eq!(resolve_plain("~"), Scalar::Null);
        assert_eq!(resolve_plain("1.2.3"), Scalar::Str("1.2.3".into()));
        assert_eq!(resolve_plain("-"), Scalar::Str("-".into()));
        let root = one("a: '0755'\nb: !!str 12\n");
        assert_eq!(root.to_json(), serde_json::json!({"a": "0755", "b": "12"}));
    }

    #[test]
    fn yaml11_readings() {
        for t in ["yes", "No", "on", "OFF", "y", "n"] {
            assert_eq!(yaml11_reading(t), Some("a boolean"), "{t}");
        }
        for t in ["1_000", "0b101", "1:30", "190:20:30"] {
            assert_eq!(yaml11_reading(t), Some("a number"), "{t}");
        }
        for t in ["env-dev", "yesterday", "1.2.3", "v1", "a:b", "12:99"] {
            assert_eq!(yaml11_reading(t), None, "{t}");
        }
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let p = parse(&text);
        assert!(
            matches!(&p.issues[..], [YamlIssue::Syntax { message, .. }] if message.contains("nodes"))
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let block: String = (0..10_000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect();
        let p = parse(&block);
        assert!(p.issues.iter().any(
            |i| matches!(i, YamlIssue::Syntax { message, .. } if message.contains("nesting"))
        ));
        let flow = "[".repeat(10_000);
        let p = parse(&flow);
        assert!(!p.issues.is_empty());
    }

    #[test]
    fn several_documents() {
        let p = parse("a: 1\n---\nb: 2\n");
        assert_eq!(p.documents.len(), 2);
        assert_eq!(p.documents[1].start.start.line, 2);
    }

    #[test]
    fn syntax_error_has_a_position() {
        let p = parse("a: [1, 2\nb: 3\n");
        assert!(matches!(&p.issues[..], [YamlIssue::Syntax { span, .. }] if span.start.line >= 1));
    }
}
