//! Boots the real binary and talks to it over loopback.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_rampart");

/// A data directory and the environment a `rampart` command runs with.
pub struct Instance {
    pub directory: tempfile::TempDir,
    pub environment: Vec<(String, String)>,
}

impl Instance {
    pub fn sqlite() -> Self {
        let directory = tempfile::tempdir().unwrap();
        let environment = vec![
            ("RAMPART_DATA_DIR".into(), directory.path().join("data").display().to_string()),
            ("RAMPART_LISTEN".into(), "127.0.0.1:0".into()),
            ("RAMPART_LOG_LEVEL".into(), "warn".into()),
        ];
        Self { directory, environment }
    }

    pub fn database_path(&self) -> PathBuf {
        self.directory.path().join("data").join("rampart.db")
    }

    pub fn command(&self, arguments: &[&str]) -> Command {
        let mut command = Command::new(BINARY);
        command.args(arguments).env_clear().envs(self.environment.iter().cloned());
        command
    }

    pub fn run(&self, arguments: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self
            .command(arguments)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            std::io::Write::write_all(&mut input, text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// `rampart init --json`; returns (provider organisation id, API key secret).
    pub fn init(&self) -> (String, String) {
        let output = self.run(
            &["init", "--organization", "Provider", "--email", "owner@provider.example", "--json"],
            None,
        );
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (
            json["organization"]["id"].as_str().unwrap().to_owned(),
            json["api_key"]["secret"].as_str().unwrap().to_owned(),
        )
    }

    pub fn serve(&self) -> Server {
        Server::start(self.command(&["serve"]))
    }

    /// `rampart serve --config <file holding config>`.
    pub fn serve_with_config(&self, config: &str) -> Server {
        let path = self.directory.path().join("rampart.toml");
        std::fs::write(&path, config).unwrap();
        Server::start(self.command(&["serve", "--config", &path.display().to_string()]))
    }
}

/// A running `rampart serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base_url: String,
    /// What the server printed on stdout before it listened.
    pub banner: Vec<String>,
}

impl Server {
    pub fn start(mut command: Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let base_url = loop {
            assert!(Instant::now() < deadline, "server did not start: {banner:?}");
            let line = lines.next().expect("server exited before listening").unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.to_owned();
            }
            banner.push(line);
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base_url, banner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Wait for the process to end; its exit status.
    pub fn wait(mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
