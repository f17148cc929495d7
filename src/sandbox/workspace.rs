//! Ephemeral copies of the workspace: made for one run, owned by the
//! sandbox user, and removed afterwards whatever happens (the copy is a
//! `TempDir`, removed on drop — after success, failure, timeout or error).

use std::fs;
use std::io;
use std::os::unix::fs::{lchown, symlink};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// Directories never copied: version-control internals are kept (diffs are
/// applied with git), build output is not.
const SKIP: &[&str] = &["target", "node_modules", ".venv", "__pycache__"];

/// Copies `workspace` into a fresh temporary directory, leaving out `masked`
/// (paths relative to it: the sidecar's own files); the copy is at
/// `<dir>/ws` and, when the sidecar runs as root, owned by `uid`.
pub fn ephemeral_copy(
    workspace: &Path,
    uid: Option<u32>,
    masked: &[PathBuf],
) -> io::Result<TempDir> {
    let dir = tempfile::Builder::new().prefix("cpos-sandbox-").tempdir()?;
    let target = dir.path().join("ws");
    copy_tree(workspace, &target, Path::new(""), masked)?;
    if let Some(uid) = uid {
        chown_tree(dir.path(), uid)?;
    }
    Ok(dir)
}

fn copy_tree(from: &Path, to: &Path, relative: &Path, masked: &[PathBuf]) -> io::Result<()> {
    fs::create_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        let dest = to.join(&name);
        let inner = relative.join(&name);
        if masked.contains(&inner) {
            continue;
        }
        if kind.is_symlink() {
            symlink(fs::read_link(entry.path())?, &dest)?;
        } else if kind.is_dir() {
            if SKIP.iter().any(|s| name == *s) {
                continue;
            }
            copy_tree(&entry.path(), &dest, &inner, masked)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// Hands `path` and everything under it to `uid` (and the same gid).
pub fn chown_tree(path: &Path, uid: u32) -> io::Result<()> {
    lchown(path, Some(uid), Some(uid))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_and_links_skips_build_output_and_cleans_up() {
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("a.txt"), "a").unwrap();
        fs::create_dir_all(src.path().join("sub/target")).unwrap();
        fs::write(src.path().join("sub/b.txt"), "b").unwrap();
        fs::create_dir(src.path().join("target")).unwrap();
        symlink("a.txt", src.path().join("link")).unwrap();
        fs::create_dir_all(src.path().join("cpos-data/tape")).unwrap();
        fs::write(src.path().join("cpos.toml"), "secret").unwrap();
        let masked = [PathBuf::from("cpos-data/tape"), PathBuf::from("cpos.toml")];
        let copy = ephemeral_copy(src.path(), None, &masked).unwrap();
        let ws = copy.path().join("ws");
        assert_eq!(fs::read_to_string(ws.join("sub/b.txt")).unwrap(), "b");
        assert_eq!(fs::read_link(ws.join("link")).unwrap(), Path::new("a.txt"));
        assert!(!ws.join("target").exists());
        assert!(ws.join("cpos-data").is_dir() && !ws.join("cpos-data/tape").exists());
        assert!(!ws.join("cpos.toml").exists());
        let path = copy.path().to_owned();
        drop(copy);
        assert!(!path.exists());
    }
}
