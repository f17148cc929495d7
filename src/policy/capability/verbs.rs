//! What a command does to remote state: destructive verbs of any CLI and
//! HTTP methods.

use super::vocabulary::is_destroy_verb;
use crate::policy::shell::SimpleCommand;

/// HTTP clients whose method and data the analysis reads.
pub fn is_http_client(program: &str) -> bool {
    matches!(
        program,
        "curl" | "wget" | "http" | "https" | "xh" | "httpie"
    )
}

/// The HTTP method a client call uses, when it is not GET.
pub fn http_method(cmd: &SimpleCommand) -> Option<&str> {
    let args = &cmd.args;
    for (i, a) in args.iter().enumerate() {
        if let Some(m) = a
            .strip_prefix("--request=")
            .or_else(|| a.strip_prefix("--method="))
        {
            return Some(m);
        }
        if matches!(a.as_str(), "-X" | "--request" | "--method") {
            return args.get(i + 1).map(String::as_str);
        }
        if let Some(m) = a.strip_prefix("-X").filter(|m| !m.is_empty()) {
            return Some(m);
        }
    }
    if matches!(cmd.program.as_str(), "http" | "https" | "xh" | "httpie") {
        // httpie: `http DELETE example.org/x`.
        if let Some(first) = cmd.positional().next() {
            if matches!(first, "DELETE" | "PUT" | "PATCH" | "POST") {
                return Some(first);
            }
        }
    }
    let sends = args.iter().any(|a| {
        matches!(
            a.as_str(),
            "-d" | "--data"
                | "--data-binary"
                | "--data-raw"
                | "--data-urlencode"
                | "-F"
                | "--form"
                | "-T"
                | "--upload-file"
                | "--post-data"
                | "--post-file"
                | "--json"
        ) || a.starts_with("--data")
            || a.starts_with("--post-")
            || a.starts_with("--json")
    });
    sends.then_some("POST")
}

/// The destructive verb among a command's leading operands (the words that
/// name what to do: `aws s3 rb`, `gcloud sql instances delete`,
/// `heroku apps:destroy`), when any.
pub(super) fn destroy_verb(cmd: &SimpleCommand) -> Option<&str> {
    let mut after_option = false;
    for arg in cmd.args.iter().take(10) {
        if arg.starts_with('-') {
            // `--profile p`, `-n ns`: the next word may be its value.
            after_option = !arg.contains('=');
            continue;
        }
        let value_like = arg.contains('/') || (arg.contains('.') && !arg.contains(':'));
        if value_like {
            if std::mem::take(&mut after_option) {
                continue;
            }
            // Paths and file names: operands, not verbs; verbs come first.
            return None;
        }
        after_option = false;
        // The word, or any part of a compound (`delete-stack`,
        // `batch-delete-image`, `apps:destroy`, `db_drop`; no verb holds a
        // separator). Emptying a cache loses nothing (`resolvectl
        // flush-caches`).
        let (mut destroys, mut cache) = (false, false);
        for part in arg.split([':', '-', '_']) {
            cache |= part == "cache" || part == "caches";
            destroys = destroys || is_destroy_verb(part);
        }
        if destroys && !cache {
            return Some(arg);
        }
    }
    None
}

/// Kubernetes CLIs remove a label, annotation, taint or environment
/// variable by naming its key with a trailing dash (`kubectl label pod p
/// key-`, `kubectl taint node n key:NoSchedule-`, `oc set env dc/x VAR-`).
pub(super) fn removes_by_trailing_dash(cmd: &SimpleCommand) -> bool {
    if !matches!(
        cmd.program.as_str(),
        "kubectl" | "oc" | "k3s" | "microk8s.kubectl"
    ) {
        return false;
    }
    let mut operands = cmd.positional();
    let Some(verb) = operands.next() else {
        return false;
    };
    matches!(verb, "label" | "annotate" | "taint" | "set")
        && operands.any(|a| a.len() > 1 && a.ends_with('-') && !a.starts_with('-'))
}
