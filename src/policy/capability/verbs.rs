//! What a command does to remote state: destructive verbs of any CLI and
//! HTTP methods.

use super::vocabulary::{self, is_destroy_verb};
use crate::policy::operands::{leading_operands, Operand};
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

/// The endpoint a forge CLI's API call writes to (`gh api -X PUT
/// repos/o/r/collaborators/x`, `glab api --method POST projects/1/members`,
/// `gh api repos/o/r/issues -f title=x`: fields are sent by POST unless
/// another method is named; a GraphQL mutation). None for reads.
pub(super) fn forge_api_write(cmd: &SimpleCommand) -> Option<&str> {
    if !matches!(cmd.program.as_str(), "gh" | "glab") {
        return None;
    }
    let mut positional = cmd.positional();
    if positional.next() != Some("api") {
        return None;
    }
    // The method's and the fields' values may stand among the operands.
    const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
    let endpoint = positional.find(|a| !a.contains('=') && !METHODS.contains(a))?;
    let method = http_method(cmd).or_else(|| {
        cmd.args
            .iter()
            .any(|a| {
                matches!(
                    a.as_str(),
                    "-f" | "-F" | "--field" | "--raw-field" | "--input"
                ) || a.starts_with("--field=")
                    || a.starts_with("--raw-field=")
                    || a.starts_with("--input=")
            })
            .then_some("POST")
    })?;
    // GraphQL is always POSTed: only a mutation writes.
    let writes = if endpoint.trim_start_matches('/') == "graphql" {
        cmd.args.iter().any(|a| a.contains("mutation"))
    } else {
        is_write_method(method)
    };
    writes.then_some(endpoint)
}

/// True when an HTTP method changes what it is sent to (not `GET`,
/// `HEAD`, `OPTIONS`).
pub(super) fn is_write_method(method: &str) -> bool {
    !["GET", "HEAD", "OPTIONS"]
        .iter()
        .any(|m| method.eq_ignore_ascii_case(m))
}

/// True when a URL's or an API endpoint's path names something that lets
/// someone in (`https://api.example.com/v1/projects/7/members`,
/// `repos/o/r/collaborators/x`, `/orgs/o/keys`): a write there grants
/// access or issues a credential.
pub(super) fn url_names_access(url: &str) -> bool {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map_or("", |(_, path)| path),
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let mut buf = [0u8; 32];
    path.split('/').any(|segment| {
        buf.get_mut(..segment.len()).is_some_and(|lower| {
            lower.copy_from_slice(segment.as_bytes());
            lower.make_ascii_lowercase();
            is_access_noun(lower)
        })
    })
}

/// What the verbs among a command's leading operands do.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Verbs {
    /// A destructive verb (`delete`, `rb`, `apps:destroy`,
    /// `schedule-key-deletion`; not emptying a cache: `flush-caches`).
    pub destroys: bool,
    /// A verb that stops or suspends something running (`aws ec2
    /// stop-instances`, `az vm deallocate`, `doctl compute droplet-action
    /// power-off`, `kubectl cordon`, `gh run cancel`).
    pub stops: bool,
    /// A verb that adds or changes (`attach`, `detach`, `add`, `put`, `set`,
    /// `create`, `grant`, `assign`, `rotate`…) with a noun of access
    /// (`policy`, `iam`, `acl`, `role`, `binding`, `permission`, `key`,
    /// `token`, `secret`, `password`, `credentials`, `member`…), in one
    /// compound or across words: `aws iam attach-user-policy`, `gcloud
    /// projects add-iam-policy-binding`, `az role assignment create`, `aws
    /// s3api put-bucket-acl`, `gh secret set`, `vault policy write`.
    pub grants_access: bool,
}

/// Reads the verbs among a command's leading operands, in one pass. A
/// compound is read by its parts (`delete-stack`, `batch-delete-image`,
/// `apps:destroy`, `db_drop`; no verb holds a separator); a destructive
/// verb may be any part (`schedule-key-deletion`), the others only the
/// part that stands where a verb stands: the first of each `:`-separated
/// segment (`stop-instances`, `ps:stop`, `config:set`), not a noun inside
/// it (`describe-data-set-permissions`); a camel-case compound by its head
/// (`dropAll`, `deleteBucket`), unless it may be an option's value
/// (`--attribute disableApiStop`).
pub(super) fn read_verbs(program: &str, args: &[String]) -> Verbs {
    let mut verbs = Verbs::default();
    let (mut grant_verb, mut access_noun, mut first_seen) = (false, false, false);
    let mut buf = [0u8; 64];
    for (
        nth,
        Operand {
            index,
            word,
            maybe_value,
        },
    ) in leading_operands(program, args).enumerate()
    {
        let Some(lower) = buf.get_mut(..word.len()) else {
            continue;
        };
        lower.copy_from_slice(word.as_bytes());
        lower.make_ascii_lowercase();
        // A program name that destroys, used as a subcommand
        // (`elasticsearch-users userdel bob`); a short form, unless it may be
        // an option's value (`--database d`).
        verbs.destroys |= (!maybe_value && short_destroy_form(lower, nth, index, args))
            || vocabulary::destroy_program_name(word);
        if !first_seen && names_password_it_sets(lower, program, args, index, maybe_value) {
            (grant_verb, access_noun) = (true, true);
        }
        first_seen |= !maybe_value;
        let (mut destroys, mut cache, mut at) = (false, false, 0);
        for segment in lower.split(|&b| b == b':') {
            let (mut verb_at, mut in_segment) = (0, 0);
            for (i, part) in segment.split(|&b| b == b'-' || b == b'_').enumerate() {
                let original = &word.as_bytes()[at..at + part.len()];
                // Every part is followed by one separator byte.
                at += part.len() + 1;
                in_segment += part.len() + 1;
                cache |= part == b"cache" || part == b"caches";
                destroys = destroys || is_destroy_verb(part);
                access_noun |= !maybe_value && is_access_noun(part);
                // The verb follows a prefix that says how the API is called
                // (`admin-set-user-password`, `batch-update-…`).
                if i == 0 && matches!(part, b"admin" | b"batch" | b"bulk") {
                    verb_at = 1;
                }
                if i == verb_at {
                    destroys = destroys || gives_up_allocation(part, segment.get(in_segment..));
                    let camel = original
                        .windows(2)
                        .position(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
                    let head = match camel {
                        Some(p) if !maybe_value => &part[..=p],
                        _ => part,
                    };
                    destroys = destroys || is_destroy_verb(head);
                    verbs.stops |= is_stop_verb(head);
                    grant_verb |= is_grant_verb(head);
                }
            }
        }
        verbs.stops |= &*lower == b"power-off" || &*lower == b"power_off";
        verbs.destroys |= destroys && !cache;
    }
    verbs.grants_access = grant_verb && access_noun;
    verbs
}

/// True when `verb`, followed in its compound by `rest`, gives up an
/// allocated resource for good: `release` before what was allocated
/// (`aws ec2 release-address`, `release-hosts`), not the noun of `gh
/// release create`.
fn gives_up_allocation(verb: &[u8], rest: Option<&[u8]>) -> bool {
    verb == b"release"
        && rest
            .and_then(|rest| rest.split(|&b| b == b'-' || b == b'_').next())
            .is_some_and(|noun| {
                matches!(
                    noun,
                    b"address"
                        | b"addresses"
                        | b"ip"
                        | b"ips"
                        | b"host"
                        | b"hosts"
                        | b"lease"
                        | b"leases"
                        | b"reservation"
                        | b"reservations"
                        | b"allocation"
                        | b"allocations"
                        | b"number"
                        | b"numbers"
                )
            })
}

/// True when `word` (lower case, at `index` of `args`, before any word that
/// is surely an operand) names the password the command sets: `mysqladmin
/// -u root password new`. After an option that may take it as its value,
/// only with the new value after it and not after a password option
/// (`mysqladmin -p password new`; not `sqlcmd -P password`, `--password
/// password url`). Not `openssl passwd`, which prints a hash, nor a
/// password given to a program named for them (`htpasswd -nb user
/// password`, read by [`sets_password`]).
fn names_password_it_sets(
    word: &[u8],
    program: &str,
    args: &[String],
    index: usize,
    maybe_value: bool,
) -> bool {
    let new_value_follows = || args.get(index + 1).is_some_and(|a| !a.starts_with('-'));
    let after_password_option = || {
        index
            .checked_sub(1)
            .is_some_and(|before| args[before].starts_with("--pass"))
    };
    matches!(word, b"password" | b"passwd")
        && program != "openssl"
        && !program.ends_with("passwd")
        && (!maybe_value || new_value_follows() && !after_password_option())
}

/// True when a program is named for setting a password (`htpasswd`,
/// `smbpasswd`, `vncpasswd`, `ldappasswd`; `passwd` and `chpasswd` are
/// privilege changes), unless it only prints or checks one: `mkpasswd` and
/// `slappasswd` print a hash, `htpasswd -n` prints the entry, `-v`
/// verifies it (`smbpasswd -n` sets an empty password: it counts).
pub(super) fn sets_password(program: &str, args: &[String]) -> bool {
    let htpasswd_prints_or_checks = || {
        program == "htpasswd"
            && args.iter().any(|a| {
                a.starts_with('-') && !a.starts_with("--") && (a.contains('n') || a.contains('v'))
            })
    };
    program.ends_with("passwd")
        && !matches!(
            program,
            "passwd" | "chpasswd" | "gpasswd" | "mkpasswd" | "slappasswd"
        )
        && !htpasswd_prints_or_checks()
}

/// True when a program's own name grants access: a grant verb, then an
/// access noun, among the parts after its first (`elasticsearch-reset-password`),
/// read like a CLI's compound verbs (program names are lower case).
pub(super) fn program_name_grants(program: &str) -> bool {
    let mut parts = program.split(['-', '_']).skip(1);
    parts.any(|verb| is_grant_verb(verb.as_bytes()))
        && parts.any(|noun| is_access_noun(noun.as_bytes()))
}

/// True when `word` (lower case, the `nth` leading operand, at `index` of
/// `args`) is a short form CLIs accept for delete or destroy: `des` (`pct
/// des 100`), `rd` (`cli53 rd zone`), and `d` after a noun and before what
/// it names (`doctl compute droplet d web-1`, `pveum user d bob`); not a `d`
/// a verb follows, which is a noun's short form (`doctl compute d ls`).
fn short_destroy_form(word: &[u8], nth: usize, index: usize, args: &[String]) -> bool {
    const VERBS: &[&str] = &[
        "ls", "list", "l", "get", "g", "describe", "show", "info", "logs", "create", "c", "new",
        "add", "a", "update", "u", "set", "d",
    ];
    match word {
        b"des" | b"rd" => true,
        b"d" => {
            nth > 0
                && args
                    .get(index + 1)
                    .is_some_and(|next| !VERBS.contains(&next.as_str()))
        }
        _ => false,
    }
}

/// True when a leading operand names a database (`database`, `db:drop`,
/// `db-reset`, `schema`).
pub(super) fn names_database(program: &str, args: &[String]) -> bool {
    leading_operands(program, args).any(|op| {
        op.word.split([':', '-', '_', '.']).any(|part| {
            ["db", "database", "databases", "schema"]
                .iter()
                .any(|noun| part.eq_ignore_ascii_case(noun))
        })
    })
}

fn is_stop_verb(part: &[u8]) -> bool {
    matches!(
        part,
        b"stop"
            | b"shutdown"
            | b"poweroff"
            | b"halt"
            | b"suspend"
            | b"deallocate"
            | b"hibernate"
            | b"cordon"
            | b"drain"
            | b"pause"
            | b"reboot"
            // What runs is cut off from its disk, network or address
            // (`aws ec2 detach-volume`, `docker network disconnect`,
            // `aws ec2 disassociate-address`).
            | b"detach"
            | b"disconnect"
            | b"disassociate"
            // What runs stops before its end: a build, a run, a deployment,
            // a stack update, a spot request, a subscription.
            | b"cancel"
    )
}

fn is_grant_verb(part: &[u8]) -> bool {
    matches!(
        part,
        b"attach"
            | b"detach"
            | b"add"
            | b"put"
            | b"set"
            | b"create"
            | b"update"
            | b"grant"
            | b"assign"
            | b"modify"
            | b"share"
            | b"rotate"
            | b"regenerate"
            | b"renew"
            | b"upload"
            | b"write"
            // Changing or clearing what lets someone in (`change_password`,
            // `clear_permissions`, `gsutil iam ch`, `reset-api-key`).
            | b"change"
            | b"ch"
            | b"reset"
            | b"clear"
    )
}

pub(super) fn is_access_noun(part: &[u8]) -> bool {
    matches!(
        part,
        b"policy"
            | b"policies"
            | b"iam"
            | b"acl"
            | b"acls"
            | b"role"
            | b"roles"
            | b"rolebinding"
            | b"clusterrolebinding"
            | b"binding"
            | b"bindings"
            | b"rbac"
            | b"permission"
            | b"permissions"
            | b"key"
            | b"keys"
            | b"token"
            | b"tokens"
            | b"secret"
            | b"secrets"
            | b"password"
            | b"passwords"
            | b"passwd"
            | b"passphrase"
            | b"apikey"
            | b"apikeys"
            | b"credential"
            | b"credentials"
            | b"authorization"
            | b"authorizations"
            | b"member"
            | b"members"
            | b"collaborator"
            | b"collaborators"
            | b"invitation"
            | b"invitations"
    )
}

/// The script or module an interpreter runs and the arguments it passes
/// on (`python manage.py flush`, `python -m alembic downgrade base`), to
/// be read as a CLI's; none for inline code (`-c`, `-e`).
pub(super) fn script_args(args: &[String]) -> Option<(&str, &[String])> {
    for (i, arg) in args.iter().enumerate() {
        match arg.as_str() {
            "-m" => return Some((args.get(i + 1)?, args.get(i + 2..)?)),
            "-c" | "-e" | "--eval" | "-p" | "--print" | "-" => return None,
            a if a.starts_with('-') => continue,
            script => return Some((script, &args[i + 1..])),
        }
    }
    None
}

/// The Kubernetes CLIs whose patches and trailing-dash removals are read.
fn is_kubernetes_cli(program: &str) -> bool {
    matches!(program, "kubectl" | "oc" | "k3s" | "microk8s.kubectl")
}

/// True when a Kubernetes patch clears an object's finalizers (`kubectl
/// patch pvc data -p '{"metadata":{"finalizers":null}}'`, `--type json -p
/// '[{"op":"remove","path":"/metadata/finalizers"}]'`): what held its
/// deletion until its dependents were cleaned up is gone, so it is deleted
/// at once, whatever still uses it.
pub(super) fn clears_finalizers(cmd: &SimpleCommand) -> bool {
    if !is_kubernetes_cli(&cmd.program) || cmd.positional().next() != Some("patch") {
        return false;
    }
    cmd.args.iter().any(|a| {
        let Some(at) = a.find("finalizers") else {
            return false;
        };
        let after: String = a[at + "finalizers".len()..]
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '"' | '\''))
            .collect();
        after.starts_with(":null")
            || after.starts_with(":[]")
            || a.contains("remove") && after.starts_with(['}', ',', '/'])
    })
}

/// Kubernetes CLIs remove a label, annotation, taint or environment
/// variable by naming its key with a trailing dash (`kubectl label pod p
/// key-`, `kubectl taint node n key:NoSchedule-`, `oc set env dc/x VAR-`).
pub(super) fn removes_by_trailing_dash(cmd: &SimpleCommand) -> bool {
    if !is_kubernetes_cli(&cmd.program) {
        return false;
    }
    let mut operands = cmd.positional();
    let Some(verb) = operands.next() else {
        return false;
    };
    matches!(verb, "label" | "annotate" | "taint" | "set")
        && operands.any(|a| a.len() > 1 && a.ends_with('-') && !a.starts_with('-'))
}
