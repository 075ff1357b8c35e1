//! `netmon run`: capture, attribute and sample until SIGINT/SIGTERM.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use netmon_core::capture::choose::open_with_mode;
use netmon_core::condition::Condition;
use netmon_core::config::ConfigError;
use netmon_core::domains::DomainPolicy;
use netmon_core::live::LiveConfig;
use netmon_core::os::{self, privileges};
use netmon_core::tracker::{Tracker, TrackerOptions};
use netmon_core::{logging, monitor, paths, Config, Paths, Sample};

use crate::config_cmd;
use crate::exit;
use crate::history::History;
use crate::serve::Server;
use crate::table;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Print a table of the busiest applications after every sample.
    #[arg(long)]
    foreground: bool,
    /// Print every sample as one JSON line on stdout (for scripts).
    #[arg(long)]
    json: bool,
    /// Sampling interval in seconds (overrides sampling_interval_seconds).
    #[arg(long, value_name = "SECONDS")]
    interval: Option<u64>,
    /// Interface to capture on (overrides capture_interface; `any` for all).
    #[arg(long, value_name = "NAME")]
    interface: Option<String>,
    /// When started as root: the user to run as once capture is open (default: the user sudo
    /// ran netmon for, from SUDO_UID). Files are then kept in that user's ~/.netmonitor.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Started by a service manager (`netmon install` writes it into the LaunchDaemon, the
    /// LaunchAgent or the systemd unit): a config.json that cannot be read or is invalid is
    /// left as it is and reported (log, `netmon doctor`, /api/status, the menubar), and netmon
    /// runs on the defaults instead of exiting, so a restart loop never replaces monitoring.
    #[arg(long)]
    service: bool,
}

pub fn run(args: RunArgs) -> u8 {
    paths::restrict_umask();
    os::tune_allocator();
    let user = match privileges::target_user(args.user.as_deref()) {
        Ok(user) => user,
        Err(error) => {
            eprintln!("netmon: {error}");
            return exit::NOT_PERMITTED;
        }
    };
    let Some(paths) = resolve_paths(user.as_ref()) else {
        return exit::CONFIG;
    };
    // Capture opens first, with the configuration as it is on disk (nothing written yet), so
    // that every file netmon creates afterwards belongs to the user it runs for.
    let before = read_config(&paths, args.service).map(|(config, _)| config);
    let Some(config) = setup(&args, before.map_err(|error| refuse(&error)).ok()) else {
        return exit::CONFIG;
    };
    let (source, mode) = match open_with_mode(&config) {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!("netmon: {error}");
            return exit::of_capture(&error);
        }
    };
    if let Some(user) = &user {
        if let Err(error) = privileges::become_user(user) {
            eprintln!("netmon: {error}");
            return exit::NOT_PERMITTED;
        }
    }
    let Some((on_disk, config_problem)) = load_config(&paths, args.service) else {
        return exit::CONFIG;
    };
    let Some(config) = setup(&args, Some(on_disk.clone())) else {
        return exit::CONFIG;
    };
    let level = logging::init(&paths, "daemon.log", config.log_level, args.foreground)
        .map_err(|error| eprintln!("netmon: cannot set up logging: {error}"))
        .ok();
    let live = LiveConfig::new(paths.config(), on_disk, config.clone());
    if let Some(problem) = &config_problem {
        report_config_problem(&live, problem);
    }
    let _watch = crate::live::follow(&live, level);
    if let Some(user) = &user {
        tracing::info!(user = %user.name, "capture opened as root; now running as the user");
    }
    let (history, set_aside) = match History::open(&paths, &config) {
        Ok(opened) => opened,
        Err(error) => {
            tracing::error!(%error, "cannot open the database");
            eprintln!("netmon: {}: {error}", paths.database().display());
            return exit::IO;
        }
    };
    let mut history = history.follow(&live);
    if let Some(moved) = &set_aside {
        eprintln!(
            "netmon: {} could not be read as a database; it was moved to {} (kept, never deleted) and a new database was started",
            paths.database().display(),
            moved.display()
        );
    }
    let controls = monitor::Controls::default();
    // Someone reads each sample as it comes: no window runs on while nothing flows.
    controls
        .every_window
        .store(args.json || args.foreground, Ordering::Relaxed);
    // A change of the configuration wakes the monitor to apply it at once, even while it sleeps
    // through a stretch with no traffic.
    let nudge = controls.clone();
    live.on_change(move |_| nudge.nudge());
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(error) = handle_stop(signal, &controls) {
            eprintln!("netmon: cannot handle signal {signal}: {error}");
        }
    }
    let server = match Server::start(paths, live.clone(), Arc::clone(&controls.paused)) {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "web server could not start");
            eprintln!("netmon: {error}");
            return exit::UNAVAILABLE;
        }
    };
    server.state.set_source(source.describe());
    server.state.set_condition(Condition {
        capture: Some(mode),
        running_as: user.map(|user| user.name),
        database_set_aside: set_aside.map(|moved| moved.display().to_string()),
        config_problem,
    });
    if let (Some(limits), Some(fix)) = (mode.cannot_see(), mode.fix()) {
        tracing::warn!(
            mode = mode.describe(),
            limits,
            fix,
            "capture runs in its limited mode"
        );
    }
    tracing::info!(source = %source.describe(), mode = mode.describe(), interval = config.sampling_interval_seconds, "capture started");
    let tracker = Tracker::new(os::socket_owners(), TrackerOptions::default())
        .with_domains(DomainPolicy::from_config(&config))
        .with_names(server.state.names())
        .with_connections(server.state.connections());
    let interval = Duration::from_secs(config.sampling_interval_seconds);
    let mut steering = crate::live::steering(&live, &server.state);
    let result = monitor::run_steered(
        source,
        tracker,
        interval,
        &controls,
        || steering.poll(),
        |sample| {
            emit(&args, &sample);
            history.add(sample.clone());
            history
                .take_alerts()
                .into_iter()
                .for_each(|alert| server.state.publish_alert(alert));
            server.state.publish(sample);
        },
    );
    history.flush();
    if let Err(error) = &result {
        server.state.record_error(error.to_string());
    }
    server.stop();
    match result {
        Ok(()) => {
            tracing::info!("capture stopped");
            exit::OK
        }
        Err(error) => {
            tracing::error!(%error, "capture failed");
            eprintln!("netmon: {error}");
            exit::of_capture(&error)
        }
    }
}

/// Makes `signal` stop the monitor: its flag is set first, then an idle capture is woken to
/// see it (signal-hook runs a signal's actions in the order they were registered).
fn handle_stop(signal: i32, controls: &monitor::Controls) -> std::io::Result<()> {
    signal_hook::flag::register(signal, Arc::clone(&controls.stop))?;
    if let Some(wake) = &controls.wake {
        signal_hook::low_level::pipe::register(signal, wake.signal_writer()?)?;
    }
    Ok(())
}

/// Where netmon's files are: `$NETMON_HOME`, else `.netmonitor` in the home of the user netmon
/// runs for.
fn resolve_paths(user: Option<&privileges::User>) -> Option<Paths> {
    Paths::resolve_for(user.map(|user| user.home.as_path()))
        .map_err(|error| eprintln!("netmon: {error}"))
        .ok()
}

/// config.json as it is, or the defaults when there is none; writes nothing. Under a service
/// manager a file that cannot be used gives the defaults and the reason (on one line).
fn read_config(paths: &Paths, service: bool) -> Result<(Config, Option<String>), ConfigError> {
    let path = paths.config();
    if !path.exists() {
        return Ok((Config::default(), None));
    }
    match Config::load(&path) {
        Ok(config) => Ok((config, None)),
        Err(error) if service => {
            let text = error.to_string();
            let reason = text.lines().map(str::trim).collect::<Vec<_>>().join(" ");
            Ok((Config::default(), Some(reason)))
        }
        Err(error) => Err(error),
    }
}

/// The configuration once netmon runs as its user: config.json (written with the defaults
/// when there is none), or, under a service manager, the defaults when it cannot be used.
/// `None` (the reason printed) when an interactive run must refuse.
fn load_config(paths: &Paths, service: bool) -> Option<(Config, Option<String>)> {
    if !paths.config().exists() {
        return config_cmd::load(paths).map(|config| (config, None));
    }
    read_config(paths, service)
        .map_err(|error| refuse(&error))
        .ok()
}

fn refuse(error: &ConfigError) {
    eprintln!("netmon: {error}");
    config_cmd::explain(error);
}

/// Says loudly that config.json is ignored: on stderr, in the log, and (through the live
/// configuration's file problems, kept until the file is fixed) in /api/status. A fixed file
/// is applied by the watcher like any hand edit.
fn report_config_problem(live: &LiveConfig, problem: &str) {
    eprintln!(
        "netmon: {} cannot be used ({problem}); started by the service manager, netmon runs on the defaults and leaves the file as it is: fix it with `netmon config edit`",
        live.path().display()
    );
    tracing::error!(path = %live.path().display(), %problem, "config.json cannot be used; running on the defaults, the file is left as it is");
    // Records the file's problems (each logged) for /api/status until it is valid.
    let _ = live.reload();
}

/// The configuration with the command-line overrides, validated like the file's keys.
fn setup(args: &RunArgs, config: Option<Config>) -> Option<Config> {
    let mut config = config?;
    let overrides = [
        ("sampling_interval_seconds", args.interval.map(Into::into)),
        (
            "capture_interface",
            args.interface.clone().map(serde_json::Value::from),
        ),
    ];
    let problems: Vec<String> = overrides
        .into_iter()
        .filter_map(|(key, value)| value.map(|value| (key, value)))
        .filter_map(|(key, value)| config.set(key, &value).err())
        .map(|problem| problem.to_string())
        .collect();
    if problems.is_empty() {
        Some(config)
    } else {
        problems
            .iter()
            .for_each(|problem| eprintln!("netmon: command line: {problem}"));
        None
    }
}

fn emit(args: &RunArgs, sample: &Sample) {
    let mut stdout = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer(&mut stdout, sample)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(stdout))
    } else if args.foreground {
        write!(stdout, "{}", table::render(sample))
    } else {
        Ok(())
    };
    if let Err(error) = written.and_then(|()| stdout.flush()) {
        tracing::warn!(%error, "cannot write to stdout");
    }
}
