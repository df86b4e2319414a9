//! Running a stage's command lines: each line in its own `sh -c`, in order, from the stage's
//! working directory, in a process group of its own so that an interrupt can stop the whole
//! tree of processes. Output goes to the stage's log file and, when asked, to stderr prefixed
//! with the stage name.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Process groups of running commands, so an interrupt can signal all of them.
#[derive(Default)]
pub struct Children {
    groups: Mutex<HashSet<i32>>,
}

impl Children {
    /// Sends SIGTERM to every running command's process group.
    pub fn terminate_all(&self) {
        for &group in self.groups.lock().expect("children lock").iter() {
            // SAFETY: killpg has no memory-safety preconditions; a stale group id only fails.
            unsafe {
                libc::killpg(group, libc::SIGTERM);
            }
        }
    }

    fn add(&self, group: i32) {
        self.groups.lock().expect("children lock").insert(group);
    }

    fn remove(&self, group: i32) {
        self.groups.lock().expect("children lock").remove(&group);
    }
}

/// How one command line ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineResult {
    /// All lines exited 0.
    Success,
    /// A line exited non-zero.
    Exit {
        /// The line that failed.
        line: String,
        /// Its exit code.
        code: i32,
    },
    /// A line was killed by a signal.
    Signal {
        /// The line.
        line: String,
        /// The signal number.
        signal: i32,
    },
}

/// Everything needed to run one stage's command.
pub struct StageCommand<'a> {
    /// The shell lines.
    pub lines: &'a [String],
    /// Working directory.
    pub cwd: PathBuf,
    /// Extra environment variables (SLIPWAY_ROOT, SLIPWAY_STAGE, the stage's `env`).
    pub env: BTreeMap<String, String>,
    /// The log file receiving stdout and stderr.
    pub log_path: PathBuf,
    /// Echo output to stderr with this prefix (for `-v`).
    pub echo_prefix: Option<String>,
}

impl StageCommand<'_> {
    /// Runs the lines in order, stopping at the first failure.
    pub fn run(&self, children: &Children) -> std::io::Result<LineResult> {
        let mut log = File::create(&self.log_path)?;
        for line in self.lines {
            writeln!(log, "$ {line}")?;
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg(line)
                .current_dir(&self.cwd)
                .envs(&self.env)
                .stdin(Stdio::null())
                .process_group(0);
            let status = if let Some(prefix) = &self.echo_prefix {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
                let mut child = command.spawn()?;
                children.add(child.id() as i32);
                let log_shared = Mutex::new(log.try_clone()?);
                let stdout = child.stdout.take().expect("piped");
                let stderr = child.stderr.take().expect("piped");
                std::thread::scope(|s| {
                    s.spawn(|| tee(stdout, &log_shared, prefix));
                    s.spawn(|| tee(stderr, &log_shared, prefix));
                });
                let status = child.wait();
                children.remove(child.id() as i32);
                status?
            } else {
                command.stdout(log.try_clone()?).stderr(log.try_clone()?);
                let mut child = command.spawn()?;
                children.add(child.id() as i32);
                let status = child.wait();
                children.remove(child.id() as i32);
                status?
            };
            if let Some(signal) = status.signal() {
                return Ok(LineResult::Signal {
                    line: line.clone(),
                    signal,
                });
            }
            let code = status.code().unwrap_or(-1);
            if code != 0 {
                return Ok(LineResult::Exit {
                    line: line.clone(),
                    code,
                });
            }
        }
        Ok(LineResult::Success)
    }
}

fn tee(stream: impl Read, log: &Mutex<File>, prefix: &str) {
    let reader = BufReader::new(stream);
    for line in reader.split(b'\n').map_while(Result::ok) {
        let text = String::from_utf8_lossy(&line);
        if let Ok(mut log) = log.lock() {
            let _ = log.write_all(&line);
            let _ = log.write_all(b"\n");
        }
        eprintln!("{prefix}{text}");
    }
}

/// The last `max_lines` lines of a log file (for a failed stage's report).
pub fn tail(path: &Path, max_lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(16 * 1024);
    let _ = file.seek(SeekFrom::Start(start));
    let mut text = String::new();
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_ok() {
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command<'a>(dir: &Path, lines: &'a [String]) -> StageCommand<'a> {
        StageCommand {
            lines,
            cwd: dir.to_path_buf(),
            env: BTreeMap::from([("GREETING".to_string(), "hello".to_string())]),
            log_path: dir.join("log.txt"),
            echo_prefix: None,
        }
    }

    #[test]
    fn each_line_runs_in_its_own_shell_and_output_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let lines = vec![
            "cd /; echo $GREETING".to_string(),
            "pwd; echo oops >&2".to_string(),
        ];
        let result = command(dir.path(), &lines)
            .run(&Children::default())
            .unwrap();
        assert_eq!(result, LineResult::Success);
        let log = std::fs::read_to_string(dir.path().join("log.txt")).unwrap();
        assert!(log.contains("hello"), "{log}");
        let cwd = std::fs::canonicalize(dir.path()).unwrap();
        assert!(
            log.contains(cwd.to_str().unwrap()),
            "a `cd` does not carry over: {log}"
        );
        assert!(log.contains("oops"));
    }

    #[test]
    fn first_failing_line_stops_the_stage() {
        let dir = tempfile::tempdir().unwrap();
        let lines = vec!["exit 3".to_string(), "touch never".to_string()];
        let result = command(dir.path(), &lines)
            .run(&Children::default())
            .unwrap();
        assert_eq!(
            result,
            LineResult::Exit {
                line: "exit 3".into(),
                code: 3
            }
        );
        assert!(!dir.path().join("never").exists());
    }

    #[test]
    fn tail_returns_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(
            &path,
            (0..100).map(|i| format!("line {i}\n")).collect::<String>(),
        )
        .unwrap();
        assert_eq!(tail(&path, 2), "line 98\nline 99");
    }
}
