//! The directory a line moved to (`cd / && rm -rf *`). The operands of
//! later commands that stand for that directory or its contents — `.`,
//! `*`, `.*`, `*.log`, `./x` — are read as paths in it, so `rm -rf *` after
//! `cd /` is `rm -rf /*` and `find . -delete` after `cd ~` is `find ~
//! -delete`. Other relative words are left as written: nothing says they
//! are files.

/// The directory `words` (a `cd`, `pushd` or `chdir` command) moves to:
/// an absolute or home directory (a bare `cd` goes home); `None` when it
/// is not known (relative, computed, `cd -`).
pub(super) fn changed_to(words: &[String]) -> Option<String> {
    let at = words.iter().position(|w| !super::shell::is_assignment(w))?;
    let mut operands = words[at + 1..]
        .iter()
        .filter(|w| !w.starts_with('-') || *w == "-");
    let Some(dir) = operands.next() else {
        return Some("~".to_owned());
    };
    let known =
        (dir.starts_with(['/', '~']) || dir.starts_with("$HOME") || dir.starts_with("${HOME}"))
            && !dir.contains("$(")
            && !dir.contains('`');
    known.then(|| dir.clone())
}

/// Rewrites the operands of `words` that stand for the working directory
/// or its contents as paths in `dir`.
pub(super) fn in_directory(dir: &str, words: &mut [String]) {
    let Some(at) = words.iter().position(|w| !super::shell::is_assignment(w)) else {
        return;
    };
    for word in &mut words[at + 1..] {
        let path = if word == "." {
            match dir.trim_end_matches('/') {
                "" => "/".to_owned(),
                dir => dir.to_owned(),
            }
        } else if let Some(rest) = word.strip_prefix("./") {
            join(dir, rest)
        } else if word.starts_with('*') || word == ".*" {
            join(dir, word)
        } else {
            continue;
        };
        *word = path;
    }
}

fn join(dir: &str, rest: &str) -> String {
    let dir = dir.trim_end_matches('/');
    format!("{dir}/{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn cd_to_a_known_directory() {
        assert_eq!(changed_to(&words("cd /")).as_deref(), Some("/"));
        assert_eq!(changed_to(&words("cd -P ~/x")).as_deref(), Some("~/x"));
        assert_eq!(changed_to(&words("cd")).as_deref(), Some("~"));
        assert_eq!(changed_to(&words("pushd $HOME")).as_deref(), Some("$HOME"));
        assert_eq!(changed_to(&words("cd src")), None);
        assert_eq!(changed_to(&words("cd -")), None);
        assert_eq!(changed_to(&words("cd $(mktemp -d)")), None);
    }

    #[test]
    fn contents_of_the_directory_become_paths_in_it() {
        let mut w = words("rm -rf * .* ./x . src");
        in_directory("/", &mut w);
        assert_eq!(w, ["rm", "-rf", "/*", "/.*", "/x", "/", "src"]);
        let mut w = words("find . -delete");
        in_directory("~/", &mut w);
        assert_eq!(w, ["find", "~", "-delete"]);
    }
}
