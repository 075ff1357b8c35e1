//! The macOS plan: LaunchAgents written with the `plist` crate and loaded with `launchctl`.

use std::path::{Path, PathBuf};

use netmon_core::os::Platform;
use netmon_core::paths;
use netmon_core::service::{self, Scope, DAEMON_LABEL, MENUBAR_LABEL};
use plist::{Dictionary, Value};

use super::{text, Context, File, InstallError, Plan, Step};

/// The daemon's and the menubar's LaunchAgents, each replaced if loaded, then loaded.
pub fn install_plan(context: &Context) -> Result<Plan, InstallError> {
    let files = [
        (daemon_path(context), daemon_agent(context)?),
        (context.locations.menubar_file(), menubar_agent(context)?),
    ]
    .into_iter()
    .map(|(path, agent)| {
        Ok(File {
            path,
            contents: plist_xml(agent)?,
        })
    })
    .collect::<Result<Vec<_>, InstallError>>()?;
    let steps = files
        .iter()
        .flat_map(|file| launchctl_load(context, &file.path))
        .collect();
    Ok(Plan { files, steps })
}

/// Both agents unloaded, then removed.
pub fn uninstall_plan(context: &Context) -> Plan {
    let files: Vec<File> = [daemon_path(context), context.locations.menubar_file()]
        .into_iter()
        .map(|path| File {
            path,
            contents: String::new(),
        })
        .collect();
    let steps = files
        .iter()
        .map(|file| launchctl_unload(context, &file.path))
        .collect();
    Plan { files, steps }
}

/// The daemon's LaunchAgent file.
fn daemon_path(context: &Context) -> PathBuf {
    let path = context.locations.daemon_file(Platform::Macos, Scope::User);
    path.unwrap_or_default()
}

/// The keys both agents share: label, program, start at login, restart after a crash only,
/// output into the logs directory.
fn agent(
    context: &Context,
    label: &str,
    program: Vec<String>,
    log_name: &str,
    process_type: &str,
) -> Result<Dictionary, InstallError> {
    let (out, err) = context.output_logs(log_name);
    let mut keep_alive = Dictionary::new();
    keep_alive.insert("SuccessfulExit".into(), Value::Boolean(false));
    let mut agent = Dictionary::new();
    agent.insert("Label".into(), Value::String(label.into()));
    agent.insert(
        "ProgramArguments".into(),
        Value::Array(program.into_iter().map(Value::String).collect()),
    );
    agent.insert("RunAtLoad".into(), Value::Boolean(true));
    agent.insert("KeepAlive".into(), Value::Dictionary(keep_alive));
    agent.insert("ProcessType".into(), Value::String(process_type.into()));
    agent.insert("StandardOutPath".into(), Value::String(text(&out)?));
    agent.insert("StandardErrorPath".into(), Value::String(text(&err)?));
    if let Some(netmon_home) = &context.netmon_home {
        let mut environment = Dictionary::new();
        environment.insert(paths::HOME_ENV.into(), Value::String(text(netmon_home)?));
        agent.insert(
            "EnvironmentVariables".into(),
            Value::Dictionary(environment),
        );
    }
    Ok(agent)
}

/// The daemon's LaunchAgent: `netmon run` in the background.
pub fn daemon_agent(context: &Context) -> Result<Dictionary, InstallError> {
    let program = vec![text(&context.binary)?, "run".into()];
    agent(context, DAEMON_LABEL, program, "daemon", "Background")
}

/// The menubar's LaunchAgent: `netmon-menubar` beside netmon, in the login session only.
pub fn menubar_agent(context: &Context) -> Result<Dictionary, InstallError> {
    let program = vec![text(&menubar_binary(&context.binary))?];
    let mut agent = agent(context, MENUBAR_LABEL, program, "menubar", "Interactive")?;
    agent.insert(
        "LimitLoadToSessionType".into(),
        Value::String("Aqua".into()),
    );
    Ok(agent)
}

fn plist_xml(agent: Dictionary) -> Result<String, InstallError> {
    let mut bytes = Vec::new();
    Value::Dictionary(agent).to_writer_xml(&mut bytes)?;
    bytes.push(b'\n');
    // The writer is given only `String`s, so its XML is UTF-8.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn launchctl_load(context: &Context, plist: &Path) -> [Step; 2] {
    let domain = service::launchd_domain(Scope::User, context.uid);
    let plist = plist.display().to_string();
    [
        // A copy loaded by an earlier install is replaced by the new one.
        Step::new("launchctl", &["bootout", &domain, &plist], false),
        Step::new("launchctl", &["bootstrap", &domain, &plist], true),
    ]
}

fn launchctl_unload(context: &Context, plist: &Path) -> Step {
    let domain = service::launchd_domain(Scope::User, context.uid);
    Step::new(
        "launchctl",
        &["bootout", &domain, &plist.display().to_string()],
        false,
    )
}

/// `netmon-menubar`, beside the netmon binary.
pub fn menubar_binary(binary: &Path) -> PathBuf {
    binary.with_file_name("netmon-menubar")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::test_context;
    use super::*;

    fn plist_of(xml: &str) -> Dictionary {
        Value::from_reader_xml(xml.as_bytes())
            .unwrap()
            .into_dictionary()
            .unwrap()
    }

    #[test]
    fn daemon_plist_parses_back_key_by_key() {
        let plan = install_plan(&test_context(Platform::Macos, Scope::User)).unwrap();
        assert_eq!(
            plan.files[0].path,
            Path::new("/Users/ana/Library/LaunchAgents/com.networkmonitor.daemon.plist")
        );
        let agent = plist_of(&plan.files[0].contents);
        let keys: Vec<&str> = agent.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Label",
                "ProgramArguments",
                "RunAtLoad",
                "KeepAlive",
                "ProcessType",
                "StandardOutPath",
                "StandardErrorPath"
            ]
        );
        assert_eq!(agent["Label"].as_string(), Some(DAEMON_LABEL));
        let program: Vec<&str> = agent["ProgramArguments"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_string)
            .collect();
        assert_eq!(program, ["/opt/net mon/bin/netmon", "run"]);
        assert_eq!(agent["RunAtLoad"].as_boolean(), Some(true));
        let keep_alive = agent["KeepAlive"].as_dictionary().unwrap();
        assert_eq!(keep_alive.len(), 1);
        assert_eq!(keep_alive["SuccessfulExit"].as_boolean(), Some(false));
        assert_eq!(agent["ProcessType"].as_string(), Some("Background"));
        assert_eq!(
            agent["StandardOutPath"].as_string(),
            Some("/Users/ana/.netmonitor/logs/daemon.out.log")
        );
        assert_eq!(
            agent["StandardErrorPath"].as_string(),
            Some("/Users/ana/.netmonitor/logs/daemon.err.log")
        );
    }

    #[test]
    fn menubar_plist_runs_the_sibling_binary_in_the_login_session() {
        let mut context = test_context(Platform::Macos, Scope::User);
        context.netmon_home = Some(PathBuf::from("/Volumes/data/netmon"));
        let plan = install_plan(&context).unwrap();
        let agent = plist_of(&plan.files[1].contents);
        assert_eq!(agent["Label"].as_string(), Some(MENUBAR_LABEL));
        let program = agent["ProgramArguments"].as_array().unwrap();
        assert_eq!(program.len(), 1);
        assert_eq!(
            program[0].as_string(),
            Some("/opt/net mon/bin/netmon-menubar")
        );
        assert_eq!(agent["ProcessType"].as_string(), Some("Interactive"));
        assert_eq!(agent["LimitLoadToSessionType"].as_string(), Some("Aqua"));
        assert_eq!(
            agent["StandardErrorPath"].as_string(),
            Some("/Volumes/data/netmon/logs/menubar.err.log")
        );
        let environment = agent["EnvironmentVariables"].as_dictionary().unwrap();
        assert_eq!(
            environment["NETMON_HOME"].as_string(),
            Some("/Volumes/data/netmon")
        );
    }

    #[test]
    fn macos_loads_each_agent_into_the_gui_domain() {
        let plan = install_plan(&test_context(Platform::Macos, Scope::User)).unwrap();
        let lines: Vec<String> = plan.steps.iter().map(Step::line).collect();
        let agents = "/Users/ana/Library/LaunchAgents";
        assert_eq!(
            lines,
            [
                format!("launchctl bootout gui/501 {agents}/com.networkmonitor.daemon.plist"),
                format!("launchctl bootstrap gui/501 {agents}/com.networkmonitor.daemon.plist"),
                format!("launchctl bootout gui/501 {agents}/com.networkmonitor.menubar.plist"),
                format!("launchctl bootstrap gui/501 {agents}/com.networkmonitor.menubar.plist"),
            ]
        );
        let must: Vec<bool> = plan.steps.iter().map(|step| step.must_succeed).collect();
        assert_eq!(must, [false, true, false, true]);
    }
}
