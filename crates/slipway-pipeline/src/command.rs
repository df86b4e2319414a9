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
use std::sync::Arc;
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
    /// The log file receiving stdout and stderr (created only if there is output).
    pub log_path: PathBuf,
    /// Echo output to stderr with this prefix (for `-v`).
    pub echo_prefix: Option<String>,
}

impl StageCommand<'_> {
    /// Runs the lines in order, stopping at the first failure. The log file is created only if
    /// the command writes something (quiet stages leave no file behind).
    pub fn run(&self, children: &Children) -> std::io::Result<LineResult> {
        let sink = Arc::new(Mutex::new(LogSink::new(self.log_path.clone())));
        let result = self.run_lines(children, &sink);
        let finished = sink.lock().expect("log sink").finish();
        finished?;
        result
    }

    fn run_lines(
        &self,
        children: &Children,
        sink: &Arc<Mutex<LogSink>>,
    ) -> std::io::Result<LineResult> {
        for line in self.lines {
            if self.lines.len() > 1 {
                sink.lock()
                    .expect("log sink")
                    .write(format!("$ {line}\n").as_bytes())?;
            }
            let (reader, writer) = std::io::pipe()?;
            let mut command = shell_command(line);
            command
                .current_dir(&self.cwd)
                .envs(&self.env)
                .stdin(Stdio::null())
                .stdout(writer.try_clone()?)
                .stderr(writer)
                .process_group(0);
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) => {
                    // As a shell would: report it in the log and exit 127 (126 if not runnable).
                    let program = line.split_whitespace().next().unwrap_or_default();
                    let message = format!("slipway: cannot run `{program}`: {e}\n");
                    sink.lock().expect("log sink").write(message.as_bytes())?;
                    let code = if e.kind() == std::io::ErrorKind::NotFound {
                        127
                    } else {
                        126
                    };
                    return Ok(LineResult::Exit {
                        line: line.clone(),
                        code,
                    });
                }
            };
            // The command's copy of the pipe's write end is now its own; `command` still holds
            // ours, so drop it to see end-of-file when the command exits.
            drop(command);
            children.add(child.id() as i32);
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            let reader_sink = Arc::clone(sink);
            let prefix = self.echo_prefix.clone();
            std::thread::spawn(move || {
                pump(reader, &reader_sink, prefix.as_deref());
                let _ = done_tx.send(());
            });
            let status = child.wait();
            children.remove(child.id() as i32);
            // A background process started by the command may keep the pipe open; do not wait
            // for it beyond a grace period (what it writes later is still appended).
            let _ = done_rx.recv_timeout(std::time::Duration::from_secs(2));
            let status = status?;
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

/// A stage's log: kept in memory while small, written to its file once it has content.
struct LogSink {
    path: PathBuf,
    buffer: Vec<u8>,
    file: Option<File>,
}

const LOG_MEMORY_LIMIT: usize = 1 << 20;

impl LogSink {
    fn new(path: PathBuf) -> LogSink {
        LogSink {
            path,
            buffer: Vec::new(),
            file: None,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(file) = &mut self.file {
            return file.write_all(bytes);
        }
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() > LOG_MEMORY_LIMIT {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> std::io::Result<()> {
        let mut file = File::create(&self.path)?;
        file.write_all(&self.buffer)?;
        self.buffer = Vec::new();
        self.file = Some(file);
        Ok(())
    }

    /// Writes what is buffered; with no output at all, removes any older log of the stage.
    fn finish(&mut self) -> std::io::Result<()> {
        if self.file.is_some() {
            return Ok(());
        }
        if self.buffer.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        self.spill()
    }
}

/// Copies the command's output into the log (and to stderr, prefixed, when echoing).
fn pump(stream: impl Read, sink: &Mutex<LogSink>, prefix: Option<&str>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if let Ok(mut sink) = sink.lock() {
                    let _ = sink.write(&line);
                }
                if let Some(prefix) = prefix {
                    eprintln!(
                        "{prefix}{}",
                        String::from_utf8_lossy(&line).trim_end_matches('\n')
                    );
                }
            }
        }
    }
}

/// The process for one command line: `sh -c LINE`, or, when the line has nothing a shell would
/// interpret (no quotes, variables, globs, redirections, pipes, separators), the program itself
/// with the words as arguments — the same result without starting a shell.
fn shell_command(line: &str) -> Command {
    const SPECIAL: &[char] = &[
        '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', ']', '#', '~',
        '=', '%', '{', '}', '!', '\n',
    ];
    let words: Vec<&str> = line.split_whitespace().collect();
    let plain = !line.contains(SPECIAL) && !words.is_empty() && !is_shell_builtin(words[0]);
    if plain {
        let mut command = Command::new(words[0]);
        command.args(&words[1..]);
        command
    } else {
        let mut command = Command::new("sh");
        command.arg("-c").arg(line);
        command
    }
}

/// Words that only mean something inside a shell (so cannot be executed directly).
fn is_shell_builtin(word: &str) -> bool {
    matches!(
        word,
        "cd" | "export"
            | "set"
            | "unset"
            | "exit"
            | "source"
            | "."
            | "alias"
            | "eval"
            | "exec"
            | "if"
            | "for"
            | "while"
            | "until"
            | "case"
            | "read"
            | "trap"
            | "ulimit"
            | "umask"
            | "wait"
            | "shift"
            | "return"
            | "local"
            | "type"
            | "command"
            | "true"
            | "false"
    )
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
    fn plain_lines_skip_the_shell_and_others_use_it() {
        let direct = shell_command("cp in/a.txt out/a.txt");
        assert_eq!(direct.get_program(), "cp");
        for line in [
            "cp a b && cat b",
            "echo $HOME",
            "ls *.csv",
            "cd x",
            "A=1 env",
            "echo 'x y'",
        ] {
            assert_eq!(shell_command(line).get_program(), "sh", "{line}");
        }
    }

    #[test]
    fn a_missing_program_is_reported_not_panicked() {
        let dir = tempfile::tempdir().unwrap();
        let lines = vec!["definitely-not-a-program-xyz arg".to_string()];
        let result = command(dir.path(), &lines)
            .run(&Children::default())
            .unwrap();
        assert!(
            matches!(result, LineResult::Exit { code: 127, .. }),
            "{result:?}"
        );
        let log = std::fs::read_to_string(dir.path().join("log.txt")).unwrap();
        assert!(log.contains("definitely-not-a-program-xyz"), "{log}");
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
