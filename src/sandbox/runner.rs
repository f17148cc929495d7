//! Runs one argv under bubblewrap: new user, pid, ipc, uts, cgroup and
//! network namespaces (no network at all), the system read-only, the
//! workspace read-only or an ephemeral writable copy, a private `/tmp`, no
//! new privileges, a clean environment, resource limits, and a wall-clock
//! timeout that takes the whole process tree down. Output is captured up to
//! a cap, returned to the caller and never persisted.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::config::{SandboxMode, SandboxSettings};

/// Where commands see the workspace.
pub const WORKSPACE: &str = "/workspace";

/// Where a size-capped run sees the prepared copy (read-only) it loads.
const SOURCE: &str = "/cpos-source";

/// Loads the prepared copy into the size-capped workspace, then runs the
/// command (its argv are the positional parameters: no shell parses them).
const LOAD_WORKSPACE: &str =
    "cp -a /cpos-source/. /workspace/ || { echo 'cpos: the workspace does not fit in sandbox.max_workspace_bytes' >&2; exit 125; }; exec \"$@\"";

/// How one command ended, with its (capped) output.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// Killed at the wall-clock limit.
    pub timed_out: bool,
    /// Wall-clock duration.
    pub duration: Duration,
    /// Captured stdout (at most the cap).
    pub stdout: Vec<u8>,
    /// Captured stderr (at most the cap).
    pub stderr: Vec<u8>,
    /// Bytes the command wrote to stdout, captured or not.
    pub stdout_bytes: u64,
    /// Bytes the command wrote to stderr, captured or not.
    pub stderr_bytes: u64,
    /// SHA-256 of everything written to stdout.
    pub stdout_sha256: String,
    /// SHA-256 of everything written to stderr.
    pub stderr_sha256: String,
    /// True when output beyond the cap was dropped.
    pub truncated: bool,
    /// True when it ran locally because bubblewrap was unavailable (permissive / local-dev).
    pub fallback: bool,
}

impl RunResult {
    /// True for exit code 0 without a timeout.
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// Metadata only: what the tape and logs may hold.
    pub fn metadata(&self) -> serde_json::Value {
        serde_json::json!({
            "exit_code": self.exit_code,
            "signal": self.signal,
            "timed_out": self.timed_out,
            "duration_ms": self.duration.as_millis() as u64,
            "stdout_bytes": self.stdout_bytes,
            "stderr_bytes": self.stderr_bytes,
            "stdout_sha256": self.stdout_sha256,
            "stderr_sha256": self.stderr_sha256,
            "truncated": self.truncated,
            "fallback": self.fallback,
        })
    }
}

/// Why nothing ran.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    /// The sandbox cannot start and the mode does not allow a local run.
    #[error("the sandbox cannot start ({0}); install bubblewrap (Debian: bubblewrap) or fix sandbox.bwrap")]
    Unavailable(String),
    /// The command could not be started at all.
    #[error("the command could not be started: {0}")]
    Spawn(String),
}

/// The runner: settings plus whether bubblewrap works here.
#[derive(Debug, Clone)]
pub struct Runner {
    settings: SandboxSettings,
    /// `Ok(path)` when bubblewrap was found and a probe ran; else why not.
    bwrap: Result<PathBuf, String>,
    /// The sidecar's own files inside the workspace, relative to it.
    masked: Vec<PathBuf>,
}

impl Runner {
    /// Finds bubblewrap and probes it once (a `true` inside every namespace).
    pub fn new(settings: SandboxSettings) -> Runner {
        let bwrap = if settings.mode == SandboxMode::LocalDev {
            Err("local-dev mode runs commands without bubblewrap".to_owned())
        } else {
            probe(&settings)
        };
        if let Err(why) = &bwrap {
            tracing::warn!(mode = ?settings.mode, reason = %why, "sandbox: bubblewrap unavailable");
        }
        Runner {
            settings,
            bwrap,
            masked: Vec::new(),
        }
    }

    /// The same runner, hiding `masked` (paths relative to the workspace)
    /// from every command.
    pub fn with_masked(mut self, masked: Vec<PathBuf>) -> Runner {
        self.masked = masked;
        self
    }

    /// The sidecar's own files inside the workspace, relative to it.
    pub fn masked(&self) -> &[PathBuf] {
        &self.masked
    }

    /// The settings in force.
    pub fn settings(&self) -> &SandboxSettings {
        &self.settings
    }

    /// `Ok` when commands run under bubblewrap; else why not.
    pub fn availability(&self) -> Result<&Path, &str> {
        self.bwrap.as_deref().map_err(String::as_str)
    }

    /// Runs `argv` with `workspace` (a directory the caller owns) mounted at
    /// `/workspace`, writable when `writable`.
    pub async fn run(
        &self,
        argv: &[String],
        workspace: &Path,
        writable: bool,
    ) -> Result<RunResult, RunError> {
        let (mut command, fallback) = match (&self.bwrap, self.settings.mode) {
            (Ok(bwrap), _) => (self.bwrap_command(bwrap, argv, workspace, writable), false),
            (Err(why), SandboxMode::Strict) => return Err(RunError::Unavailable(why.clone())),
            (Err(_), _) => (self.local_command(argv, workspace), true),
        };
        self.limit(&mut command);
        let started = Instant::now();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match fallback {
                false => RunError::Unavailable(format!("{}: {e}", self.settings.bwrap.display())),
                true => RunError::Spawn(format!("{}: {e}", argv[0])),
            })?;
        let pid = child.id();
        let cap = self.settings.max_output_bytes;
        let stdout = tokio::spawn(capture(child.stdout.take(), cap));
        let stderr = tokio::spawn(capture(child.stderr.take(), cap));
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let (status, timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
            Ok(status) => (status.map_err(|e| RunError::Spawn(e.to_string()))?, false),
            Err(_) => {
                // The whole tree: with bubblewrap, the command is the init
                // of its pid namespace, and everything in it dies with it;
                // bubblewrap then reaps it and exits. Then the process group
                // (the session we made), which is the tree without it.
                if let Some(pid) = pid {
                    kill_children(pid);
                    let _ = tokio::time::timeout(REAP_GRACE, child.wait()).await;
                    // SAFETY: signalling a process group we created.
                    unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
                }
                let _ = child.start_kill();
                let status = child
                    .wait()
                    .await
                    .map_err(|e| RunError::Spawn(e.to_string()))?;
                (status, true)
            }
        };
        let (stdout, stdout_total, stdout_sha) = stdout.await.unwrap_or_default();
        let (stderr, stderr_total, stderr_sha) = stderr.await.unwrap_or_default();
        Ok(RunResult {
            exit_code: status.code(),
            signal: status.signal(),
            timed_out,
            duration: started.elapsed(),
            truncated: stdout_total > stdout.len() as u64 || stderr_total > stderr.len() as u64,
            stdout,
            stderr,
            stdout_bytes: stdout_total,
            stderr_bytes: stderr_total,
            stdout_sha256: stdout_sha,
            stderr_sha256: stderr_sha,
            fallback,
        })
    }

    fn bwrap_command(
        &self,
        bwrap: &Path,
        argv: &[String],
        workspace: &Path,
        writable: bool,
    ) -> Command {
        let mut command = Command::new(bwrap);
        command.args(bwrap_args(&self.settings));
        let capped = writable && self.settings.max_workspace_bytes > 0;
        if capped {
            // Writes land in a tmpfs of at most `max_workspace_bytes`; the
            // prepared copy is loaded into it inside the sandbox.
            command
                .arg("--ro-bind")
                .arg(workspace)
                .arg(SOURCE)
                .arg("--size")
                .arg(self.settings.max_workspace_bytes.to_string())
                .args(["--tmpfs", WORKSPACE]);
        } else {
            command
                .arg(if writable { "--bind" } else { "--ro-bind" })
                .arg(workspace)
                .arg(WORKSPACE);
        }
        // The sidecar's own files, when the workspace holds them: an empty
        // directory or file in their place.
        let mount = if capped { SOURCE } else { WORKSPACE };
        for relative in &self.masked {
            let Ok(meta) = std::fs::symlink_metadata(workspace.join(relative)) else {
                continue;
            };
            let inside = Path::new(mount).join(relative);
            match meta.is_dir() {
                true => command.arg("--tmpfs").arg(inside),
                false => command.arg("--ro-bind").arg("/dev/null").arg(inside),
            };
        }
        // The sandbox's own root (where /etc, / live) read-only too: only
        // /workspace (when writable) and /tmp take writes.
        command.args(["--remount-ro", "/", "--chdir", WORKSPACE, "--"]);
        if capped {
            command
                .args(["/bin/sh", "-c", LOAD_WORKSPACE, "cpos-sandbox"])
                .args(argv);
        } else {
            command.args(argv);
        }
        self.clean_env(&mut command, WORKSPACE);
        command
    }

    fn local_command(&self, argv: &[String], workspace: &Path) -> Command {
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]).current_dir(workspace);
        self.clean_env(&mut command, &workspace.to_string_lossy());
        command
    }

    /// Only allowlisted variables, plus a fixed PATH and HOME.
    fn clean_env(&self, command: &mut Command, home: &str) {
        command.env_clear();
        command.env("PATH", "/usr/local/bin:/usr/bin:/bin");
        command.env("HOME", home);
        for name in &self.settings.env_allow {
            if let Ok(value) = std::env::var(name) {
                command.env(name, value);
            }
        }
    }

    /// Resource limits and a new session, applied in the child before exec;
    /// as root, the command also drops to the unprivileged sandbox uid.
    fn limit(&self, command: &mut Command) {
        let s = &self.settings;
        let limits = [
            (libc::RLIMIT_CPU, s.cpu_seconds),
            (libc::RLIMIT_AS, s.memory_bytes),
            (libc::RLIMIT_NPROC, s.max_processes),
            (libc::RLIMIT_NOFILE, s.max_open_files),
            (libc::RLIMIT_CORE, 0),
        ];
        let uid = s.run_as_uid;
        let drop_root = unsafe { libc::geteuid() } == 0;
        // SAFETY: only async-signal-safe calls (setsid, setrlimit, setgroups,
        // setgid, setuid) between fork and exec.
        unsafe {
            command.as_std_mut().pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                for (resource, value) in limits {
                    let limit = libc::rlimit {
                        rlim_cur: value as libc::rlim_t,
                        rlim_max: value as libc::rlim_t,
                    };
                    if libc::setrlimit(resource, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if drop_root
                    && (libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setgid(uid) != 0
                        || libc::setuid(uid) != 0)
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// How long bubblewrap gets to reap a killed sandbox before it is killed too.
const REAP_GRACE: Duration = Duration::from_secs(1);

/// SIGKILL the direct children of `pid` (with bubblewrap: the sandbox's init).
fn kill_children(pid: u32) {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let Ok(children) = std::fs::read_to_string(path) else {
        return;
    };
    for child in children.split_ascii_whitespace() {
        if let Ok(child) = child.parse::<libc::pid_t>() {
            // SAFETY: signalling a process of the tree we started.
            unsafe { libc::kill(child, libc::SIGKILL) };
        }
    }
}

/// The namespace and filesystem part of the bubblewrap command line.
fn bwrap_args(settings: &SandboxSettings) -> Vec<std::ffi::OsString> {
    // --as-pid-1: the command itself is the namespace's init, so the
    // process we spawn waits for it. With bubblewrap's own init in between,
    // that init outlives our child as a zombie handed to the system's pid 1;
    // zombies count against the sandbox user's process limit, and where pid
    // 1 reaps slowly (or is the sidecar itself, in a container) a few dozen
    // runs fail with "Creating new namespace failed".
    let mut args: Vec<std::ffi::OsString> = [
        "--unshare-all",
        "--as-pid-1",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.extend([
        "--size".into(),
        settings.max_tmp_bytes.to_string().into(),
        "--tmpfs".into(),
        "/tmp".into(),
        "--ro-bind".into(),
        "/usr".into(),
        "/usr".into(),
    ]);
    // Merged-/usr systems have /bin, /lib… as symlinks; others as directories.
    for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
        match std::fs::symlink_metadata(top) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(top) {
                    args.extend(["--symlink".into(), target.into(), top.into()]);
                }
            }
            Ok(_) => args.extend(["--ro-bind".into(), top.into(), top.into()]),
            Err(_) => {}
        }
    }
    // What programs need from /etc, and nothing else of it.
    for etc in [
        "/etc/alternatives",
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/localtime",
        "/etc/passwd",
        "/etc/group",
        "/etc/nsswitch.conf",
        "/etc/ssl/certs",
        "/etc/ca-certificates",
        "/etc/gitconfig",
    ] {
        args.extend(["--ro-bind-try".into(), etc.into(), etc.into()]);
    }
    for path in &settings.ro_binds {
        args.extend(["--ro-bind".into(), path.into(), path.into()]);
    }
    args
}

/// Checks that bubblewrap exists and can build every namespace here.
fn probe(settings: &SandboxSettings) -> Result<PathBuf, String> {
    let bwrap = find_in_path(&settings.bwrap)
        .ok_or_else(|| format!("`{}` not found in PATH", settings.bwrap.display()))?;
    let mut command = std::process::Command::new(&bwrap);
    command
        .args(bwrap_args(settings))
        .args(["--", "/usr/bin/true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let drop_root = unsafe { libc::geteuid() } == 0;
    let uid = settings.run_as_uid;
    if drop_root {
        // SAFETY: setgroups, setgid and setuid are async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(uid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = command
        .output()
        .map_err(|e| format!("{}: {e}", bwrap.display()))?;
    if out.status.success() {
        Ok(bwrap)
    } else {
        Err(format!(
            "{} cannot create its namespaces here: {}",
            bwrap.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn find_in_path(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_owned());
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// Reads a stream to its end: the first `cap` bytes, the total and its SHA-256.
async fn capture<R: AsyncRead + Unpin>(stream: Option<R>, cap: usize) -> (Vec<u8>, u64, String) {
    let mut kept = Vec::new();
    let mut total = 0u64;
    let mut hasher = Sha256::new();
    if let Some(mut stream) = stream {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    total += n as u64;
                    hasher.update(&buf[..n]);
                    let room = cap.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
    }
    (kept, total, hex::encode(hasher.finalize()))
}
