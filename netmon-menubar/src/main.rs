//! `netmon-menubar`: the macOS menubar status item. Elsewhere the binary says so and exits 2.

#[cfg(target_os = "macos")]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    use netmon_core::paths::Paths;
    use netmon_menubar::macos::MenubarApp;
    use netmon_menubar::model::Thresholds;

    /// Shows netmon's live rate, today's usage and controls in the menubar.
    #[derive(Debug, Parser)]
    #[command(name = "netmon-menubar", version, about)]
    struct Args {
        /// Combined rates (bytes per second) where the low, medium and high levels start.
        #[arg(
            long,
            value_name = "LOW,MEDIUM,HIGH",
            value_delimiter = ',',
            num_args = 3
        )]
        levels: Option<Vec<f64>>,
    }

    let args = Args::parse();
    let levels = match args.levels.as_deref() {
        Some([low, medium, high]) => Thresholds::new(*low, *medium, *high),
        _ => Ok(Thresholds::default()),
    };
    let levels = match levels {
        Ok(levels) => levels,
        Err(error) => {
            eprintln!("netmon-menubar: --levels: {error}");
            return std::process::ExitCode::from(64);
        }
    };
    let paths = match Paths::resolve() {
        Ok(paths) => paths,
        Err(error) => {
            eprintln!("netmon-menubar: {error}");
            return std::process::ExitCode::from(78);
        }
    };
    MenubarApp::new(paths, levels).run();
    std::process::ExitCode::SUCCESS
}

#[cfg(not(target_os = "macos"))]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    use netmon_core::paths::Paths;
    use netmon_menubar::model::Thresholds;
    use netmon_menubar::notify::notify_send_args;
    use netmon_menubar::runner::Runner;

    /// The menubar runs on macOS only; here it can still send the high-usage notifications.
    #[derive(Debug, Parser)]
    #[command(name = "netmon-menubar", version, about)]
    struct Args {
        /// Watch the daemon and send the high-usage notification with `notify-send` (see
        /// `enable_notifications` and `high_usage_threshold_gb`).
        #[arg(long)]
        notify: bool,
    }

    if !Args::parse().notify {
        eprintln!(
            "netmon-menubar runs on macOS only; on this system use `netmon run` and the dashboard \
             (or `netmon-menubar --notify` for high-usage notifications)"
        );
        return std::process::ExitCode::from(2);
    }
    let paths = match Paths::resolve() {
        Ok(paths) => paths,
        Err(error) => {
            eprintln!("netmon-menubar: {error}");
            return std::process::ExitCode::from(78);
        }
    };
    let _runner = Runner::start(
        paths,
        Thresholds::default(),
        |_menu| {},
        |notification| {
            let sent = std::process::Command::new("notify-send")
                .args(notify_send_args(&notification))
                .status();
            if let Err(error) = sent {
                eprintln!("netmon-menubar: cannot run notify-send: {error}");
            }
        },
    );
    loop {
        std::thread::park();
    }
}
