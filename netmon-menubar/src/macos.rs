//! The macOS status item: renders the [`Menu`] the runner computes, with cacao for the
//! application and menus and raw AppKit messages for `NSStatusItem`, which cacao lacks.

use std::cell::RefCell;
use std::process::Command;
use std::sync::OnceLock;

use cacao::appkit::menu::{Menu as NsMenu, MenuItem};
use cacao::appkit::{App, AppDelegate};
use cacao::foundation::{id, NSString};
use cacao::notification_center::Dispatcher;
use netmon_core::paths::Paths;
use objc::runtime::NO;
use objc::{class, msg_send, sel, sel_impl};

use crate::model::{Action, Item, Menu, Thresholds};
use crate::notify::Notification;
use crate::runner::{launch, Installed, Runner};

/// `NSVariableStatusItemLength`: the item is as wide as its title.
const VARIABLE_LENGTH: f64 = -1.0;
/// `NSApplicationActivationPolicyAccessory`: no Dock icon, no main menu.
const ACCESSORY: isize = 1;

/// What the background threads and menu items send to the main thread.
#[derive(Debug)]
pub enum Message {
    Show(Menu),
    Act(Action),
}

/// The application: the status item and the menu it shows.
pub struct MenubarApp {
    paths: Paths,
    levels: Thresholds,
    status_item: RefCell<Option<id>>,
    shown: RefCell<Option<Menu>>,
}

/// The background threads, started once the application has launched.
static RUNNER: OnceLock<Runner> = OnceLock::new();

impl MenubarApp {
    pub fn new(paths: Paths, levels: Thresholds) -> Self {
        Self {
            paths,
            levels,
            status_item: RefCell::new(None),
            shown: RefCell::new(None),
        }
    }

    /// Runs the application until Quit.
    pub fn run(self) {
        App::new(netmon_core::service::MENUBAR_LABEL, self).run();
    }

    fn show(&self, menu: Menu) {
        let Some(item) = *self.status_item.borrow() else {
            return;
        };
        let title = format!("{} {}", menu.level.symbol(), menu.title);
        // SAFETY: `item` is the retained NSStatusItem made in did_finish_launching, used on the
        // main thread only.
        unsafe {
            let button: id = msg_send![item, button];
            let title = NSString::new(&title);
            let _: () = msg_send![button, setTitle: &*title];
        }
        let same_items = self
            .shown
            .borrow()
            .as_ref()
            .is_some_and(|shown| shown.items == menu.items);
        if !same_items {
            let rendered = render(&menu.items);
            // SAFETY: as above; the status item retains the menu.
            unsafe {
                let _: () = msg_send![&*rendered.0, setAutoenablesItems: NO];
                let _: () = msg_send![item, setMenu: &*rendered.0];
            }
        }
        *self.shown.borrow_mut() = Some(menu);
    }

    fn act(&self, action: Action) {
        let Some(runner) = RUNNER.get() else {
            return;
        };
        match action {
            // The request runs off the main thread, so the menu never waits for the daemon.
            Action::Pause => drop(std::thread::spawn(|| runner.set_paused(true))),
            Action::Resume => drop(std::thread::spawn(|| runner.set_paused(false))),
            Action::Quit => App::terminate(),
            outside => {
                let Some(program) = launch(
                    outside,
                    Installed::here(),
                    runner.dashboard_url(),
                    self.paths.logs(),
                ) else {
                    return;
                };
                if let Err(error) = Command::new(program.program).args(&program.args).spawn() {
                    eprintln!("netmon-menubar: cannot run {}: {error}", program.program);
                }
                if outside == Action::StartDaemon {
                    runner.refresh();
                }
            }
        }
    }
}

/// cacao menu items for the model's items: text lines greyed out, commands wired to messages.
fn render(items: &[Item]) -> NsMenu {
    let items = items
        .iter()
        .map(|item| match item {
            Item::Separator => MenuItem::Separator,
            Item::Info(text) => {
                let item = MenuItem::new(text);
                if let MenuItem::Custom(objc) = &item {
                    // SAFETY: a freshly made NSMenuItem, on the main thread.
                    unsafe {
                        let _: () = msg_send![&**objc, setEnabled: NO];
                    }
                }
                item
            }
            Item::Command { label, action } => {
                let action = *action;
                MenuItem::new(label)
                    .action(move || App::<MenubarApp, Message>::dispatch_main(Message::Act(action)))
            }
        })
        .collect();
    NsMenu::new("netmon", items)
}

/// A notification through the system's notification centre (`osascript` works without an
/// application bundle).
fn notify(notification: Notification) {
    let quoted = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
    let script = format!(
        "display notification \"{}\" with title \"{}\"",
        quoted(&notification.body),
        quoted(&notification.title)
    );
    if let Err(error) = Command::new("osascript").args(["-e", &script]).spawn() {
        eprintln!("netmon-menubar: cannot show a notification: {error}");
    }
}

impl AppDelegate for MenubarApp {
    fn did_finish_launching(&self) {
        // SAFETY: AppKit calls on the main thread; the status item is retained for the life of
        // the application.
        unsafe {
            let app: id = msg_send![class!(NSApplication), sharedApplication];
            let _: () = msg_send![app, setActivationPolicy: ACCESSORY];
            let bar: id = msg_send![class!(NSStatusBar), systemStatusBar];
            let item: id = msg_send![bar, statusItemWithLength: VARIABLE_LENGTH];
            let item: id = msg_send![item, retain];
            *self.status_item.borrow_mut() = Some(item);
        }
        self.show(Menu::build(&crate::model::Daemon::Down, &self.levels));
        let runner = Runner::start(
            self.paths.clone(),
            self.levels,
            |menu| App::<MenubarApp, Message>::dispatch_main(Message::Show(menu)),
            notify,
        );
        let _ = RUNNER.set(runner);
    }
}

impl Dispatcher for MenubarApp {
    type Message = Message;

    fn on_ui_message(&self, message: Message) {
        match message {
            Message::Show(menu) => self.show(menu),
            Message::Act(action) => self.act(action),
        }
    }
}
