//! A real `redis-server` on a free loopback port, persistence off, owned by
//! the test (killed when dropped). It can be stopped and started again on
//! the same port, to test what the sidecar does while Redis is away.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    /// TLS only (no plain port): the server's certificate, key and CA.
    tls: Option<super::Pki>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_inner(None)
    }

    /// A server that speaks TLS only, with a certificate for 127.0.0.1
    /// from `pki`'s CA.
    pub fn start_tls(pki: super::Pki) -> RedisServer {
        Self::start_inner(Some(pki))
    }

    /// Tests run in parallel: a port found free can be taken before
    /// redis-server binds it, so a server that exits at once is started
    /// again on another port.
    fn start_inner(tls: Option<super::Pki>) -> RedisServer {
        let mut server = RedisServer {
            port: super::mcp::free_port(),
            child: None,
            tls,
        };
        for _ in 0..5 {
            if server.try_resume() {
                return server;
            }
            server.stop();
            server.port = super::mcp::free_port();
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// `redis://127.0.0.1:<port>/`, or `rediss://…` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    fn port_args(&self) -> Vec<String> {
        match &self.tls {
            None => vec!["--port".into(), self.port.to_string()],
            Some(pki) => vec![
                "--port".into(),
                "0".into(),
                "--tls-port".into(),
                self.port.to_string(),
                "--tls-cert-file".into(),
                pki.server_cert.display().to_string(),
                "--tls-key-file".into(),
                pki.server_key.display().to_string(),
                "--tls-ca-cert-file".into(),
                pki.ca_file.display().to_string(),
                "--tls-auth-clients".into(),
                "no".into(),
            ],
        }
    }

    /// Starts the server (again) on its port and waits until it answers.
    pub fn resume(&mut self) {
        assert!(
            self.try_resume(),
            "redis-server did not start on port {}",
            self.port
        );
    }

    /// Starts the server on its port; false when it exited (its port was
    /// taken) or did not answer within 10 s.
    fn try_resume(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(self.port_args())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "local"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (tests/run.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["PING"]).trim() != "PONG" {
            let exited = self
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited || Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Kills the server (its data goes with it: persistence is off).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs `redis-cli` against the server; its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cli = Command::new("redis-cli");
        cli.args(["-p", &self.port.to_string()]);
        if let Some(pki) = &self.tls {
            cli.arg("--tls").arg("--cacert").arg(&pki.ca_file);
        }
        let out = cli.args(args).output().expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
