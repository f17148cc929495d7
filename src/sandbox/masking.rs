//! The sidecar's own files inside the sandbox workspace. With the default
//! `sandbox.workspace = "."` the sidecar's configuration, keys, pins, tape
//! and stores may sit in the very directory commands see; they are masked:
//! never copied into an ephemeral workspace, and hidden behind an empty
//! file or directory when the workspace is mounted read-only. The hardened
//! profile refuses such a workspace at start-up instead (preflight).

use std::path::{Component, Path, PathBuf};

/// The paths of `own` that lie inside `workspace`, relative to it.
/// `Err` when the workspace itself is one of them (or inside one).
pub fn own_paths_inside(workspace: &Path, own: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let root = absolute(workspace);
    let mut inside = Vec::new();
    for path in own {
        let path = absolute(path);
        if root.starts_with(&path) {
            return Err(format!(
                "the sandbox workspace {} is (inside) the sidecar's own {}",
                root.display(),
                path.display()
            ));
        }
        if let Ok(relative) = path.strip_prefix(&root) {
            inside.push(relative.to_owned());
        }
    }
    inside.sort();
    inside.dedup();
    Ok(inside)
}

/// `path` made absolute, `.` and `..` removed, and symlinks resolved as far
/// as it exists.
fn absolute(path: &Path) -> PathBuf {
    let joined = match path.is_absolute() {
        true => path.to_owned(),
        false => std::env::current_dir().unwrap_or_default().join(path),
    };
    let mut lexical = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    // Resolve the longest existing prefix, then append the rest.
    let mut existing = lexical.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(ToOwned::to_owned),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_owned();
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize().unwrap_or(existing);
    out.extend(rest.into_iter().rev());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_files_inside_the_workspace_are_found_whatever_their_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(ws.join("cpos-data/tape")).unwrap();
        std::fs::write(ws.join("cpos.toml"), "").unwrap();
        let own = [
            ws.join("cpos.toml"),
            ws.join("cpos-data/tape"),
            ws.join("sub/../keys.json"),
            dir.path().join("elsewhere.json"),
        ];
        let inside = own_paths_inside(&ws, &own).unwrap();
        assert_eq!(
            inside,
            [
                PathBuf::from("cpos-data/tape"),
                PathBuf::from("cpos.toml"),
                PathBuf::from("keys.json")
            ]
        );
        assert!(own_paths_inside(&ws.join("cpos-data/tape"), &own).is_err());
    }
}
