//! Global options of the CLIs the policy reads past (`git -C dir`,
//! `kubectl -n ns`, `docker -H host`): which take the next word as
//! their value, so that the word after them is the subcommand.

/// How a global option is read: `Some(true)` when its value is the next
/// word (not the subcommand), `Some(false)` when it stands alone, `None`
/// when this analysis does not know (the next word is then read both ways).
pub(crate) fn takes_value(program: &str, arg: &str) -> Option<bool> {
    let known = match program {
        // Closed sets: every other global option of these stands alone.
        "git" => {
            return Some(matches!(
                arg,
                "-C" | "-c" | "--git-dir" | "--work-tree" | "--namespace" | "--config-env"
            ))
        }
        "docker" => {
            return Some(matches!(
                arg,
                "-H" | "--host"
                    | "--context"
                    | "-c"
                    | "--config"
                    | "-l"
                    | "--log-level"
                    | "--tlscacert"
                    | "--tlscert"
                    | "--tlskey"
            ))
        }
        "terraform" | "tofu" => return Some(arg == "-chdir"),
        "kubectl" | "oc" | "helm" => matches!(
            arg,
            "-n" | "--namespace"
                | "--context"
                | "--kube-context"
                | "--kubeconfig"
                | "--cluster"
                | "--kube-token"
                | "--kube-apiserver"
        ),
        "podman" => matches!(
            arg,
            "-H" | "--host" | "--context" | "--config" | "--connection"
        ),
        "terragrunt" => arg == "--working-dir" || arg == "--terragrunt-working-dir",
        "pulumi" => matches!(arg, "-C" | "--cwd" | "-s" | "--stack" | "--color"),
        _ => false,
    };
    known.then_some(true)
}
