//! The shared progress display for long work (indicatif). Hidden with `-q` or when stderr is
//! not a terminal, so piped output and CI logs stay clean.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over a known total (bytes or items), or a spinner when the total is unknown.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

#[allow(dead_code)] // used by the subcommands that arrive with their issues
impl Progress {
    /// A bar over `total` bytes.
    pub fn bytes(total: u64, message: &str, quiet: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), target(quiet));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    /// A bar over `total` items.
    pub fn items(total: u64, message: &str, quiet: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), target(quiet));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    /// A spinner with a running count.
    pub fn spinner(message: &str, quiet: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(None, target(quiet));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {human_pos} ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    pub fn set_message(&self, message: impl Into<std::borrow::Cow<'static, str>>) {
        self.bar.set_message(message);
    }

    /// Prints a line above the bar without garbling it.
    pub fn println(&self, line: impl AsRef<str>) {
        self.bar.println(line);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn target(quiet: bool) -> ProgressDrawTarget {
    if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr_with_hz(5)
    }
}
