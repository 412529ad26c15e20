//! A webhook delivery: who may send it (token, signature) and what it asks for (a job, or
//! nothing). Pure functions of headers and bytes, so every rule here has a unit test.

use super::config::Secret;
use super::queue::{Base, JobKind, NewJob};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// Longest branch name stored, in bytes. Git has no limit of its own; a loose ref is a file whose
/// every path component is at most 255 bytes on common file systems, and no branch name in
/// real use comes near 1,024 bytes. Over it, the delivery is refused rather than stored.
pub const MAX_REF_BYTES: usize = 1024;
/// Longest delivery key or event id stored, in bytes: GitLab sends UUIDs (36 characters).
pub const MAX_KEY_BYTES: usize = 255;

/// Refuses a value over its bound: a cut one would name another branch or merge two keys.
fn bounded<'a>(what: &str, value: &'a str, max: usize) -> Result<&'a str, BadRequest> {
    if value.len() > max {
        return Err(BadRequest(format!(
            "malformed body: {what} is {} bytes, over the limit of {max}",
            value.len()
        )));
    }
    Ok(value)
}

/// Compares a presented token with the configured one in constant time. Both sides are hashed
/// first so neither the content nor the length of the secret leaks through timing.
pub fn token_matches(presented: Option<&[u8]>, expected: &Secret) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    let a = Sha256::digest(presented);
    let b = Sha256::digest(expected.expose().as_bytes());
    a.ct_eq(&b).into()
}

/// Checks a signed delivery (GitLab's signing token, the Standard Webhooks scheme):
/// `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`,
/// keyed with the base64-decoded token after its `whsec_` prefix. The header may hold several
/// space-separated signatures (during a key rotation); one match is enough. Timestamps more than
/// five minutes from `now` are refused, so a captured delivery cannot be replayed later.
pub fn signature_valid(
    signing_token: &Secret,
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), &'static str> {
    let (Some(id), Some(ts), Some(sigs)) = (id, timestamp, signatures) else {
        return Err("missing webhook-id, webhook-timestamp or webhook-signature");
    };
    let ts_num: i64 = ts
        .trim()
        .parse()
        .map_err(|_| "webhook-timestamp is not a number")?;
    if (now_unix - ts_num).abs() > 300 {
        return Err("webhook-timestamp is more than 5 minutes off");
    }
    let key = signing_key(signing_token);
    let mut mac = <Hmac<Sha256>>::new_from_slice(&key).map_err(|_| "unusable signing key")?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    let b64 = base64::engine::general_purpose::STANDARD;
    for candidate in sigs.split_whitespace() {
        let Some(value) = candidate.strip_prefix("v1,") else {
            continue;
        };
        if let Ok(raw) = b64.decode(value)
            && raw.len() == expected.len()
            && bool::from(raw.ct_eq(&expected))
        {
            return Ok(());
        }
    }
    Err("webhook-signature does not match")
}

/// The HMAC key of a signing token: base64 after `whsec_`. A token that is not base64 is used as
/// raw bytes, so a hand-made token still works when both sides agree.
pub fn signing_key(token: &Secret) -> Vec<u8> {
    let t = token.expose();
    let t = t.strip_prefix("whsec_").unwrap_or(t);
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .unwrap_or_else(|_| t.as_bytes().to_vec())
}

/// What a delivery asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Enqueue(NewJob),
    /// Nothing to validate; the reason goes back in the 200 answer.
    Ignore(&'static str),
}

/// A malformed delivery: answered 400 with this short reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

#[derive(Deserialize)]
struct Project {
    id: i64,
    #[serde(default)]
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct Push {
    object_kind: String,
    before: Option<String>,
    after: Option<String>,
    #[serde(rename = "ref")]
    ref_name: String,
    checkout_sha: Option<String>,
    project_id: Option<i64>,
    project: Option<Project>,
}

#[derive(Deserialize)]
struct LastCommit {
    id: String,
}

#[derive(Deserialize)]
struct MrAttributes {
    iid: i64,
    action: Option<String>,
    source_branch: String,
    target_branch: String,
    source_project_id: i64,
    target_project_id: i64,
    last_commit: Option<LastCommit>,
    oldrev: Option<String>,
}

#[derive(Deserialize)]
struct MergeRequest {
    object_kind: String,
    project: Project,
    object_attributes: MrAttributes,
}

/// A full commit sha (SHA-1 or SHA-256) in lower case, as GitLab writes it, so the same commit
/// always makes the same duplicate key. An abbreviated sha is refused, not resolved: GitLab
/// never sends one, and it could name another commit once the repository grows.
pub fn full_sha(s: &str) -> Option<String> {
    (matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| s.to_ascii_lowercase())
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, BadRequest> {
    serde_json::from_slice(body).map_err(|e| BadRequest(format!("malformed body: {e}")))
}

/// Decides what a delivery means. `event` is the `X-Gitlab-Event` header.
pub fn decide(
    event: Option<&str>,
    body: &[u8],
    event_uuid: Option<&str>,
    idempotency_key: Option<&str>,
) -> Result<Decision, BadRequest> {
    // An empty or blank key names no delivery; stored, it would make every later delivery
    // without a real key a "duplicate".
    let idempotency_key = idempotency_key.filter(|k| !k.trim().is_empty());
    if let Some(k) = idempotency_key {
        bounded("the delivery key", k, MAX_KEY_BYTES)?;
    }
    if let Some(u) = event_uuid {
        bounded("X-Gitlab-Event-UUID", u, MAX_KEY_BYTES)?;
    }
    let meta = |mut job: NewJob| {
        job.event_uuid = event_uuid.map(str::to_owned);
        job.idempotency_key = idempotency_key.map(str::to_owned);
        Decision::Enqueue(job)
    };
    match event {
        Some("Push Hook") => {
            let p: Push = parse(body)?;
            if p.object_kind != "push" {
                return Err(BadRequest(format!(
                    "object_kind `{}` does not match the Push Hook header",
                    p.object_kind
                )));
            }
            let default_branch = p
                .project
                .as_ref()
                .and_then(|p| p.default_branch.clone())
                .filter(|b| !b.is_empty());
            let project_id = p
                .project
                .map(|p| p.id)
                .or(p.project_id)
                .ok_or_else(|| BadRequest("malformed body: no project id".into()))?;
            let Some(branch) = p.ref_name.strip_prefix("refs/heads/") else {
                return Ok(Decision::Ignore("not a branch"));
            };
            let branch = bounded("the ref", branch, MAX_REF_BYTES)?;
            let after = p.after.unwrap_or_default();
            if after == ZERO_SHA {
                return Ok(Decision::Ignore("branch deleted"));
            }
            let sha = p.checkout_sha.filter(|s| !s.is_empty()).unwrap_or(after);
            let sha = full_sha(&sha).ok_or_else(|| {
                BadRequest("malformed body: `after` is not a full commit sha".into())
            })?;
            let base = match p.before.as_deref().and_then(full_sha) {
                Some(b) if b != ZERO_SHA => Some(Base::Rev {
                    project: project_id,
                    rev: b,
                }),
                // A new branch (or a `before` GitLab left out): compared with where it left
                // the default branch, unless it is the default branch itself (a first push).
                _ if default_branch.as_deref() == Some(branch) => None,
                _ => Some(Base::ForkPoint {
                    project: project_id,
                    default_branch,
                }),
            };
            Ok(meta(NewJob {
                kind: JobKind::Push,
                project_id,
                sha,
                ref_name: branch.to_owned(),
                base,
                merge_request: None,
                event_uuid: None,
                idempotency_key: None,
            }))
        }
        Some("Merge Request Hook") => {
            let m: MergeRequest = parse(body)?;
            if m.object_kind != "merge_request" {
                return Err(BadRequest(format!(
                    "object_kind `{}` does not match the Merge Request Hook header",
                    m.object_kind
                )));
            }
            let a = m.object_attributes;
            let code_changed = match a.action.as_deref() {
                Some("open" | "reopen") => true,
                // Title edits, labels, approvals also arrive as `update`; only a new commit
                // brings `oldrev`.
                Some("update") => a.oldrev.as_deref().is_some_and(|r| !r.is_empty()),
                _ => false,
            };
            if !code_changed {
                return Ok(Decision::Ignore("merge request action changes no code"));
            }
            bounded("the source branch ref", &a.source_branch, MAX_REF_BYTES)?;
            bounded("the target branch ref", &a.target_branch, MAX_REF_BYTES)?;
            let sha = a
                .last_commit
                .map(|c| c.id)
                .ok_or_else(|| BadRequest("malformed body: no last_commit".into()))?;
            let sha = full_sha(&sha).ok_or_else(|| {
                BadRequest("malformed body: last_commit.id is not a full commit sha".into())
            })?;
            // The project header is the target project; keep it when the attributes disagree.
            let target = if a.target_project_id > 0 {
                a.target_project_id
            } else {
                m.project.id
            };
            Ok(meta(NewJob::merge_request(
                a.source_project_id,
                sha,
                a.source_branch,
                target,
                a.target_branch,
                a.iid,
            )))
        }
        Some("Tag Push Hook") => Ok(Decision::Ignore("tag push")),
        Some("Note Hook") => Ok(Decision::Ignore("comment")),
        Some(_) => Ok(Decision::Ignore("event not handled")),
        None => Err(BadRequest("missing X-Gitlab-Event header".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUSH: &str = r#"{"object_kind":"push","before":"95790bf891e76fee5e1747ab589903a6a1f80f22",
        "after":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","ref":"refs/heads/master",
        "checkout_sha":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","project_id":15,
        "project":{"id":15}}"#;

    #[test]
    fn push_becomes_a_job_with_its_before_as_base() {
        let Decision::Enqueue(job) =
            decide(Some("Push Hook"), PUSH.as_bytes(), Some("u"), Some("k")).unwrap()
        else {
            panic!()
        };
        assert_eq!(job.project_id, 15);
        assert_eq!(job.ref_name, "master");
        assert_eq!(job.sha, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
        assert_eq!(
            job.base,
            Some(Base::Rev {
                project: 15,
                rev: "95790bf891e76fee5e1747ab589903a6a1f80f22".into()
            })
        );
        assert_eq!(job.idempotency_key.as_deref(), Some("k"));
        for blank in ["", "  \t"] {
            let Decision::Enqueue(job) =
                decide(Some("Push Hook"), PUSH.as_bytes(), None, Some(blank)).unwrap()
            else {
                panic!()
            };
            assert_eq!(job.idempotency_key, None);
        }
    }

    #[test]
    fn a_new_branch_is_compared_with_its_fork_point_and_deletion_is_ignored() {
        let new_branch = PUSH.replace("95790bf891e76fee5e1747ab589903a6a1f80f22", ZERO_SHA);
        let base = |body: &str| {
            let Decision::Enqueue(job) =
                decide(Some("Push Hook"), body.as_bytes(), None, None).unwrap()
            else {
                panic!()
            };
            job.base
        };
        assert_eq!(
            base(&new_branch),
            Some(Base::ForkPoint {
                project: 15,
                default_branch: None
            })
        );
        let with_default = new_branch.replace(
            r#""project":{"id":15}"#,
            r#""project":{"id":15,"default_branch":"main"}"#,
        );
        assert_eq!(
            base(&with_default),
            Some(Base::ForkPoint {
                project: 15,
                default_branch: Some("main".into())
            })
        );
        // The first push of the default branch itself has nothing to compare with.
        assert_eq!(base(&with_default.replace("\"main\"", "\"master\"")), None);
        let deleted = PUSH
            .replace(
                "\"after\":\"da1560886d4f094c3e6c9ef40349f7d38b5d27d7\"",
                &format!("\"after\":\"{ZERO_SHA}\""),
            )
            .replace(
                "\"checkout_sha\":\"da1560886d4f094c3e6c9ef40349f7d38b5d27d7\"",
                "\"checkout_sha\":null",
            );
        assert_eq!(
            decide(Some("Push Hook"), deleted.as_bytes(), None, None).unwrap(),
            Decision::Ignore("branch deleted")
        );
    }

    #[test]
    fn malformed_bodies_get_a_reason() {
        let e = decide(Some("Push Hook"), b"{not json", None, None).unwrap_err();
        assert!(e.0.starts_with("malformed body"), "{e:?}");
        let e = decide(Some("Push Hook"), br#"{"object_kind":"push"}"#, None, None).unwrap_err();
        assert!(e.0.contains("missing field"), "{e:?}");
        let e = decide(
            Some("Push Hook"),
            br#"{"object_kind":"note","ref":"x"}"#,
            None,
            None,
        )
        .unwrap_err();
        assert!(e.0.contains("does not match"), "{e:?}");
    }

    #[test]
    fn merge_request_actions() {
        let mr = |action: &str, oldrev: &str| {
            format!(
                r#"{{"object_kind":"merge_request","project":{{"id":1}},"object_attributes":{{
                "iid":3,"action":"{action}","source_branch":"feat","target_branch":"main",
                "source_project_id":14,"target_project_id":1,{oldrev}
                "last_commit":{{"id":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7"}}}}}}"#
            )
        };
        let Decision::Enqueue(job) = decide(
            Some("Merge Request Hook"),
            mr("open", "").as_bytes(),
            None,
            None,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(job.project_id, 14);
        assert_eq!(
            job.base,
            Some(Base::Rev {
                project: 1,
                rev: "main".into()
            })
        );
        assert_eq!(job.merge_request, Some((1, 3)));
        assert!(matches!(
            decide(
                Some("Merge Request Hook"),
                mr("update", "").as_bytes(),
                None,
                None
            )
            .unwrap(),
            Decision::Ignore(_)
        ));
        assert!(matches!(
            decide(
                Some("Merge Request Hook"),
                mr(
                    "update",
                    r#""oldrev":"95790bf891e76fee5e1747ab589903a6a1f80f22","#
                )
                .as_bytes(),
                None,
                None
            )
            .unwrap(),
            Decision::Enqueue(_)
        ));
        for a in ["close", "merge", "approved"] {
            assert!(matches!(
                decide(Some("Merge Request Hook"), mr(a, "").as_bytes(), None, None).unwrap(),
                Decision::Ignore(_)
            ));
        }
    }

    #[test]
    fn tokens_compare_whole() {
        let s = Secret::new("s3cret");
        assert!(token_matches(Some(b"s3cret"), &s));
        assert!(!token_matches(Some(b"s3cre"), &s));
        assert!(!token_matches(Some(b"s3cret "), &s));
        assert!(!token_matches(None, &s));
    }

    fn sign(token: &Secret, id: &str, ts: &str, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&signing_key(token)).unwrap();
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(body);
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        )
    }

    #[test]
    fn signatures() {
        let token = Secret::new(format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(b"0123456789abcdef0123456789abcdef")
        ));
        let body = b"{}";
        let sig = sign(&token, "id1", "1000", body);
        assert!(signature_valid(&token, Some("id1"), Some("1000"), Some(&sig), body, 1100).is_ok());
        // Rotation: several signatures, one valid.
        let both = format!("v1,AAAA {sig}");
        assert!(
            signature_valid(&token, Some("id1"), Some("1000"), Some(&both), body, 1000).is_ok()
        );
        assert!(
            signature_valid(&token, Some("id1"), Some("1000"), Some(&sig), b"{ }", 1000).is_err()
        );
        assert!(
            signature_valid(&token, Some("id2"), Some("1000"), Some(&sig), body, 1000).is_err()
        );
        assert_eq!(
            signature_valid(
                &token,
                Some("id1"),
                Some("1000"),
                Some(&sig),
                body,
                1000 + 301
            ),
            Err("webhook-timestamp is more than 5 minutes off")
        );
        assert!(signature_valid(&token, None, Some("1000"), Some(&sig), body, 1000).is_err());
    }
}
