//! Progress bars on stderr: shown only when stderr is a terminal, and only once an operation has
//! taken more than a second, so quick commands and pipes stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// A progress bar that stays hidden for the first second.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    visible: bool,
    eligible: bool,
}

impl Progress {
    /// A bar over `total` units, labelled `message`; `enabled` is false under `--quiet`/`--json`.
    pub fn new(total: u64, message: &str, enabled: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(message.to_string());
        Progress {
            bar,
            started: Instant::now(),
            visible: false,
            eligible: enabled && std::io::stderr().is_terminal(),
        }
    }

    /// A bar without a known total that counts bytes processed and shows the rate.
    pub fn bytes(message: &str, enabled: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {bytes} ({bytes_per_sec})")
                .expect("static template"),
        );
        bar.set_message(message.to_string());
        Progress {
            bar,
            started: Instant::now(),
            visible: false,
            eligible: enabled && std::io::stderr().is_terminal(),
        }
    }

    /// Advances by `n`, revealing the bar once a second has passed.
    pub fn inc(&mut self, n: u64) {
        self.bar.inc(n);
        if self.eligible && !self.visible && self.started.elapsed() > Duration::from_secs(1) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.visible = true;
        }
    }

    /// Removes the bar.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }

    /// Removes the bar without consuming it (when it is still borrowed).
    pub fn bar_clear(&self) {
        self.bar.finish_and_clear();
    }
}
