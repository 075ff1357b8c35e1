//! The capture → tracker → sample loop that `netmon run` drives.
//!
//! The capture source runs on its own thread and hands batches of observations over a bounded
//! channel; this loop places each packet (sent, received, local, transit), counts it on its flow,
//! looks up owners of new flows, and closes a [`Sample`] every interval: with a source that
//! knows when its packets were captured, each packet in the window it was captured in (the
//! source cuts its batches at the window's end, [`CaptureSource::cut_at`], and the window is
//! closed once the packets captured before its end came, [`CUT_GRACE`]); while nothing flows,
//! an empty window after one published empty runs on until traffic comes ([`QUIET_WINDOWS`],
//! unless [`Controls::every_window`] asks for every one). This machine's
//! addresses and tunnels ([`crate::tunnel`]) are read again when the system announces a change
//! (every 30 seconds regardless; every 2 seconds where it announces none). Stopping (the `stop`
//! flag) ends capture, and the last, partial window is still emitted.
//!
//! [`run_steered`] also takes [`Change`]s while it runs (a live configuration change): the
//! interval of the next windows, the domain policy, and a new capture source, which the capture
//! thread opens between two polls and swaps in for the old one (closed unread, so no packet is
//! read from both). In debug mode each batch's packets go to [`PacketLog`] as well. The open
//! flows are published about once a second (`Tracker::publish_connections`). A source that
//! waits on descriptors is handed [`Controls::wake`], so an idle capture sleeps until packets
//! come or a stop or new source wakes it; [`Controls::nudge`] wakes the loop for a live change.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::capture::{CaptureError, CaptureSource, Cut, Observation, Wake};
use crate::domains::DomainPolicy;
use crate::flow::{LocalAddrs, Placement};
use crate::os::InterfaceChanges;
use crate::packet_log::PacketLog;
use crate::sample::Sample;
use crate::tracker::Tracker;
use crate::tunnel::TunnelWatch;

use crate::clock::unix_ms;

/// How often this machine's addresses are read again while packets arrive (interfaces come and
/// go: Wi-Fi → Ethernet, VPN up) where the system does not announce changes
/// ([`InterfaceChanges`]); checked before each batch is placed.
const ADDRESS_REFRESH: Duration = Duration::from_secs(2);
/// Soonest re-read after a packet that matched none of this machine's addresses, where the
/// system does not announce changes.
const ADDRESS_REFRESH_ON_MISS: Duration = Duration::from_millis(500);
/// How often they are read again while packets arrive where the system announces changes (they
/// are read at once after one): a safety net, and the tunnels' holders are looked at again
/// (`tunnel::watch::HOLDER_RESCAN`).
const ADDRESS_REFRESH_ANNOUNCED: Duration = Duration::from_secs(30);
/// Longest the loop waits for a batch while traffic flows before asking for live changes of the
/// configuration (a new source, the domain policy); owner lookups retried for flows still
/// active are done as their batches come, and a new flow's lookup has its own wake-up
/// (`Tracker::lookup_due_in`). Longer than the gaps of light traffic (a paced sender's bursts
/// every 100 ms, a page's requests), so those cost one wake-up per batch, not two.
const TICK: Duration = Duration::from_millis(500);
/// After this long without a batch the loop sleeps until the window ends (or traffic comes):
/// an idle monitor wakes once per sampling interval (less, see [`QUIET_WINDOWS`]), not every
/// tick, and for the live connections only when their list would change
/// (`Tracker::connections_due_in`). A batch that came this long after the one before
/// (a lone packet on an idle link) does not start the ticks either: it costs the loop one
/// wake-up, not two.
const IDLE_AFTER: Duration = TICK;
/// How long after a window's end a source that cuts its batches there
/// ([`CaptureSource::cut_at`]) may still hand over packets captured before it: Linux's
/// libpcap source gives up a partly filled block 250 ms after its first packet and holds a
/// batch up to 250 ms after its oldest packet (`capture::pcap`). The window is closed then, or
/// as soon as a batch captured after its end comes.
const CUT_GRACE: Duration = Duration::from_millis(400);
/// A window with nothing in it that follows one published empty (the live feed already shows
/// no traffic) is not closed at its end: it runs on until traffic comes, up to this many
/// intervals (a minute at the default 5 s). So a monitor watching nothing wakes about once a
/// minute, not at every window's end; the sample says how long it ran, so no rate is invented.
const QUIET_WINDOWS: u32 = 12;
/// Batches buffered between the capture thread and the loop.
const CHANNEL_BATCHES: usize = 256;
/// Emptied batch vectors kept for the capture thread to fill again.
const RECYCLED_BATCHES: usize = 4;

struct Batch {
    observations: Vec<Observation>,
    dropped_total: u64,
    /// When its oldest packet was captured (µs since the epoch), if the source can tell.
    captured_from: Option<i64>,
}

/// Switches that steer a running monitor from other threads (signal handlers, the API).
#[derive(Debug, Clone)]
pub struct Controls {
    /// Ends capture; the last window is still emitted. Whoever sets it also wakes `wake`
    /// ([`Controls::request_stop`]; a signal handler writes to [`Wake::signal_writer`]).
    pub stop: Arc<AtomicBool>,
    /// While set, captured traffic is not counted (samples keep coming, empty).
    pub paused: Arc<AtomicBool>,
    /// While set, every window closes at its end, an empty one too: someone reads each sample
    /// as it comes (`netmon run --json`). Otherwise an empty window after one published empty
    /// runs on until traffic comes ([`QUIET_WINDOWS`]).
    pub every_window: Arc<AtomicBool>,
    /// Wakes an idle capture at once to see a stop or a new source, so it need not wake
    /// every few seconds to look; `None` when it could not be made (the capture then looks
    /// every 2 seconds).
    pub wake: Option<Wake>,
    /// Set by [`Controls::nudge`]: the capture hands over a batch, empty if need be, so the
    /// loop wakes to ask for live changes.
    nudged: Arc<AtomicBool>,
}

impl Default for Controls {
    fn default() -> Self {
        let wake = Wake::new()
            .map_err(|error| tracing::warn!(%error, "an idle capture wakes every 2 s to look for a stop"))
            .ok();
        Self {
            stop: Arc::default(),
            paused: Arc::default(),
            every_window: Arc::default(),
            wake,
            nudged: Arc::default(),
        }
    }
}

impl Controls {
    /// Ends capture (the last window is still emitted), waking an idle capture to see it.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Wakes the loop to ask `steer` (see [`run_steered`]) now, not at its next wake-up: a
    /// monitor watching nothing sleeps up to a minute ([`QUIET_WINDOWS`]). Without a wake
    /// (`wake` is `None`), the capture's next look (2 s at most) hands the batch over.
    pub fn nudge(&self) {
        self.nudged.store(true, Ordering::SeqCst);
        self.wake();
    }

    fn wake(&self) {
        self.wake.iter().for_each(Wake::wake);
    }
}

/// Opens the capture source that replaces the running one, on the capture thread between two
/// polls; `None` keeps the running one (the opener reports why).
pub type Reopen = Box<dyn FnOnce() -> Option<Box<dyn CaptureSource>> + Send>;

/// What a running monitor changes when asked (see [`run_steered`]).
#[derive(Default)]
pub struct Change {
    /// Length of the windows after the current one.
    pub interval: Option<Duration>,
    /// Whose traffic is broken down by domain, from now on.
    pub domains: Option<DomainPolicy>,
    /// A new capture source to switch to.
    pub reopen: Option<Reopen>,
}

/// Runs capture until `controls.stop` is set or the source fails, calling `on_sample` at the end
/// of every `interval` and once more for the last window.
pub fn run(
    source: Box<dyn CaptureSource>,
    tracker: Tracker,
    interval: Duration,
    controls: &Controls,
    on_sample: impl FnMut(Sample),
) -> Result<(), CaptureError> {
    run_steered(source, tracker, interval, controls, || None, on_sample)
}

/// [`run`], asking `steer` between batches (cheaply: it is called every few milliseconds)
/// whether anything should change.
pub fn run_steered(
    mut source: Box<dyn CaptureSource>,
    mut tracker: Tracker,
    interval: Duration,
    controls: &Controls,
    mut steer: impl FnMut() -> Option<Change>,
    mut on_sample: impl FnMut(Sample),
) -> Result<(), CaptureError> {
    let reopen = Mutex::new(None);
    let (sender, receiver) = mpsc::sync_channel::<Batch>(CHANNEL_BATCHES);
    // Emptied batches go back to the capture thread, so their memory is reused; a few at most,
    // so a burst that filled the channel does not keep its memory for good.
    let (recycle, recycled) = mpsc::sync_channel::<Vec<Observation>>(RECYCLED_BATCHES);
    if let Some(wake) = controls.wake.as_ref() {
        source.wake_on(wake);
    }
    let mut beat = Beat::starting_now(interval);
    let cut = Cut::clone(&beat.window.cut);
    source.cut_at(&cut);
    thread::scope(|scope| {
        let shared = (&reopen, &cut);
        let capture =
            scope.spawn(move || capture_loop(&mut source, &sender, &recycled, controls, shared));
        let mut placing = Placing::start(&mut tracker);
        loop {
            match receiver.recv_timeout(beat.wait(&tracker, controls, Instant::now())) {
                Ok(mut batch) => {
                    let arrived = Instant::now();
                    // An empty batch only wakes the loop (a nudge, or drops counted): no
                    // traffic, so a quiet window runs on.
                    if !batch.observations.is_empty() {
                        beat.batch_came(batch.captured_from, arrived, &mut tracker, &mut on_sample);
                        placing.refresh_if_due(&mut tracker, arrived);
                    }
                    if !controls.paused.load(Ordering::Relaxed) {
                        placing.count(&batch, &mut tracker, arrived);
                    }
                    batch.observations.clear();
                    let _ = recycle.try_send(batch.observations);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if let Some(change) = steer() {
                change.carry_out(&mut beat.window, &mut tracker, &reopen, controls);
            }
            let now = Instant::now();
            tracker.attribute(now);
            tracker.publish_connections(now, unix_ms());
            beat.publish_due(&mut tracker, controls, now, &mut on_sample);
        }
        beat.finish(&mut tracker, &mut on_sample);
        capture.join().unwrap_or_else(|_| {
            Err(CaptureError::Failed {
                device: "capture thread".into(),
                detail: "panicked".into(),
            })
        })
    })
}

impl Change {
    /// Carries the change out between two batches: the next windows' interval, the domain
    /// policy from now on, and a new source for the capture thread to open (woken to do so).
    fn carry_out(
        self,
        window: &mut Window,
        tracker: &mut Tracker,
        reopen: &Mutex<Option<Reopen>>,
        controls: &Controls,
    ) {
        if let Some(next) = self.interval {
            window.next_interval = next;
        }
        if let Some(policy) = self.domains {
            tracker.set_domains(policy);
        }
        if self.reopen.is_some() {
            *lock(reopen) = self.reopen;
            controls.wake();
        }
    }
}

/// The loop's beat: the current window, when batches came, and a window closed early that
/// waits to be published; from them, how long the loop sleeps and which samples are due.
struct Beat {
    window: Window,
    /// The source cuts its batches at the window's end: the window waits this long for the
    /// packets captured before it (see `CUT_GRACE`).
    grace: Duration,
    /// A window closed early (a batch captured after its end came) is published when the
    /// others are, `grace` after its end: samples keep a steady beat, so a scraper's rate over
    /// a few of them counts each window once.
    closed: Option<(Instant, Sample)>,
    last_batch: Instant,
    /// How long before the latest batch the one before it came.
    gap_before_last: Duration,
}

impl Beat {
    fn starting_now(interval: Duration) -> Self {
        Self {
            window: Window::starting_now(interval),
            grace: Duration::ZERO,
            closed: None,
            last_batch: Instant::now(),
            gap_before_last: Duration::ZERO,
        }
    }

    /// Whether the window may run on past its end (see `QUIET_WINDOWS`).
    fn runs_on(&self, controls: &Controls) -> bool {
        self.window.is_quiet(self.last_batch) && !controls.every_window.load(Ordering::Relaxed)
    }

    /// How long the loop sleeps from `now`: to the window's end (or, running on quietly, its
    /// limit; while traffic flows, a tick at most), to the next snapshot of the connections
    /// when it would change (a UDP flow ending; their rates fall to 0 for the readers, with no
    /// snapshot), to a new flow's owner lookup (wanted while its socket exists), or to an
    /// early-closed window's publication.
    fn wait(&self, tracker: &Tracker, controls: &Controls, now: Instant) -> Duration {
        let left = self
            .window
            .time_left(now, self.grace, self.runs_on(controls));
        let idle =
            self.gap_before_last >= IDLE_AFTER || now.duration_since(self.last_batch) >= IDLE_AFTER;
        let tick = (!idle).then_some(TICK);
        [
            tick,
            tracker.connections_due_in(now),
            tracker.lookup_due_in(now),
            self.closed
                .as_ref()
                .map(|(due, _)| due.saturating_duration_since(now)),
        ]
        .into_iter()
        .flatten()
        .fold(left, Duration::min)
    }

    /// A batch with packets came at `arrived`, its oldest captured at `captured_from` (when
    /// the source tells): a later window's batch closes the current one first.
    fn batch_came(
        &mut self,
        captured_from: Option<i64>,
        arrived: Instant,
        tracker: &mut Tracker,
        on_sample: &mut impl FnMut(Sample),
    ) {
        self.grace = captured_from.map_or(Duration::ZERO, |_| CUT_GRACE);
        if let Some(ended) = self
            .window
            .close_before(tracker, captured_from, arrived, self.grace)
        {
            publish(self.closed.replace(ended), on_sample);
        }
        self.gap_before_last = arrived.duration_since(self.last_batch);
        self.last_batch = arrived;
    }

    /// Publishes what is due at `now`: the window closed early, and the current window once
    /// its time is up.
    fn publish_due(
        &mut self,
        tracker: &mut Tracker,
        controls: &Controls,
        now: Instant,
        on_sample: &mut impl FnMut(Sample),
    ) {
        if self.closed.as_ref().is_some_and(|(due, _)| *due <= now) {
            publish(self.closed.take(), on_sample);
        }
        if self
            .window
            .time_left(now, self.grace, self.runs_on(controls))
            .is_zero()
        {
            publish(self.closed.take(), on_sample);
            on_sample(self.window.close(tracker, now, self.grace));
        }
    }

    /// Capture stopped: publishes the window closed early, if any, and the last, partial one.
    fn finish(mut self, tracker: &mut Tracker, on_sample: &mut impl FnMut(Sample)) {
        publish(self.closed.take(), on_sample);
        on_sample(self.window.close(tracker, Instant::now(), Duration::ZERO));
    }
}

/// Hands `sample`, if any, to `on_sample`.
fn publish(sample: Option<(Instant, Sample)>, on_sample: &mut impl FnMut(Sample)) {
    if let Some((_, sample)) = sample {
        on_sample(sample);
    }
}

/// What places each batch's packets: this machine's addresses and tunnels, read again when
/// due, the packet log (debug mode), and the drops counted so far.
struct Placing {
    addresses: Addresses,
    tunnels: TunnelWatch,
    packet_log: PacketLog,
    dropped_before: u64,
}

impl Placing {
    fn start(tracker: &mut Tracker) -> Self {
        let mut placing = Self {
            addresses: Addresses::read(),
            tunnels: TunnelWatch::default(),
            packet_log: PacketLog::new(),
            dropped_before: 0,
        };
        placing.follow_tunnels(tracker, Instant::now());
        placing
    }

    /// Reads this machine's addresses (and tunnels) again when due, before the packets they
    /// place: with no packets there is nothing to place, so an idle monitor reads nothing.
    fn refresh_if_due(&mut self, tracker: &mut Tracker, now: Instant) {
        if self.addresses.refresh_if_due(now) {
            self.follow_tunnels(tracker, now);
        }
    }

    /// Hands the tracker this machine's tunnels when they changed.
    fn follow_tunnels(&mut self, tracker: &mut Tracker, now: Instant) {
        if let Some(fresh) = self.tunnels.refresh(now) {
            tracker.set_tunnels(fresh);
        }
    }

    /// Counts a batch that came at `arrived`, and the packets the kernel dropped since the
    /// last. Each observation gets its own instant, in the batch's (capture) order, so what
    /// came first on the wire also comes first in time.
    fn count(&mut self, batch: &Batch, tracker: &mut Tracker, arrived: Instant) {
        let inspecting = PacketLog::wanted();
        let instants = (0..).map(|n| arrived + Duration::from_nanos(n));
        batch
            .observations
            .iter()
            .zip(instants)
            .for_each(|(observation, at)| {
                let placement = apply(observation, &mut self.addresses, tracker, at);
                if inspecting {
                    self.packet_log
                        .record(observation, placement, unix_ms() / 1000);
                }
            });
        tracker.dropped(batch.dropped_total.saturating_sub(self.dropped_before));
        self.dropped_before = self.dropped_before.max(batch.dropped_total);
    }
}

/// Counts one observation: packets where this machine's addresses place them, with the
/// process and server names the capture found; per-process reports as they are. Returns a
/// packet's placement.
fn apply(
    observation: &Observation,
    addresses: &mut Addresses,
    tracker: &mut Tracker,
    now: Instant,
) -> Option<Placement> {
    match observation {
        Observation::Packet(packet) => {
            let placement = addresses.place(packet);
            tracker.record(packet, placement, now);
            Some(placement)
        }
        Observation::OwnedPacket(packet, process, naming) => {
            let placement = addresses.place(packet);
            tracker.record_owned(packet, placement, process, now);
            if let Some(naming) = naming {
                tracker.name(placement, naming);
            }
            Some(placement)
        }
        Observation::Run(run) => {
            let placement = addresses.place(&run.meta);
            tracker.record_run(run, placement, now);
            Some(placement)
        }
        Observation::ProcessBytes(report) => {
            tracker.record_report(report);
            None
        }
        Observation::Named(packet, naming) => {
            let placement = addresses.place(packet);
            tracker.record(packet, placement, now);
            tracker.name(placement, naming);
            Some(placement)
        }
        Observation::Answers(answers) => {
            tracker.learn_answers_at(answers, now);
            None
        }
        Observation::Opening(packet) => {
            let placement = addresses.place(packet);
            tracker.open(packet, placement, now);
            Some(placement)
        }
        Observation::Unreadable => {
            tracker.skipped();
            None
        }
    }
}

/// Polls the source until `controls.stop` is set, handing each non-empty batch (or a new drop
/// count, or an empty one when nudged) to the monitor; batch vectors come back through
/// `recycled` to be filled again. A source swapped in (`reopen`) is given the controls' wake as
/// the first one was, and takes over without a gap or an overlap (see [`hand_over`]).
fn capture_loop(
    source: &mut Box<dyn CaptureSource>,
    sender: &mpsc::SyncSender<Batch>,
    recycled: &mpsc::Receiver<Vec<Observation>>,
    controls: &Controls,
    (reopen, cut): (&Mutex<Option<Reopen>>, &Cut),
) -> Result<(), CaptureError> {
    // Drops counted by sources that were replaced, so the total never goes back.
    let mut dropped_earlier = 0;
    let mut dropped_sent = 0;
    let mut observations = Vec::new();
    while !controls.stop.load(Ordering::Relaxed) {
        if observations.capacity() == 0 {
            observations = recycled.try_recv().unwrap_or_default();
        }
        if let Some(replacement) = lock(reopen).take().and_then(|open| open()) {
            dropped_earlier += source.dropped();
            hand_over(source, replacement, &mut observations);
            if let Some(wake) = &controls.wake {
                source.wake_on(wake);
            }
            source.cut_at(cut);
        }
        source.poll(&mut observations)?;
        let dropped_total = dropped_earlier + source.dropped();
        let nudged = controls.nudged.swap(false, Ordering::SeqCst);
        if observations.is_empty() && dropped_total == dropped_sent && !nudged {
            continue;
        }
        dropped_sent = dropped_total;
        let batch = Batch {
            observations: std::mem::take(&mut observations),
            dropped_total,
            captured_from: source.captured_from(),
        };
        if sender.send(batch).is_err() {
            break;
        }
    }
    Ok(())
}

/// Replaces `source` with `replacement`, already capturing: what the old one captured before
/// this instant is read into `observations` and the new one counts from it on, so the traffic
/// of the switch (the new source's opening took milliseconds) is neither lost nor counted twice.
fn hand_over(
    source: &mut Box<dyn CaptureSource>,
    mut replacement: Box<dyn CaptureSource>,
    observations: &mut Vec<Observation>,
) {
    let switched_at = crate::clock::unix_micros();
    replacement.count_from(switched_at);
    if let Err(error) = source.read_before(observations, switched_at) {
        tracing::warn!(%error, "the replaced capture's last packets could not be read");
    }
    *source = replacement;
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This machine's addresses, read again after the system announced a change; where it does
/// not, periodically and soon after a packet matched none.
struct Addresses {
    current: LocalAddrs,
    read_at: Instant,
    follow: Follow,
}

/// How changes of this machine's addresses are noticed.
enum Follow {
    /// The system announces them.
    Announced(InterfaceChanges),
    /// On a timer, and soon after a packet matched none of the addresses (`missed`).
    Timed { missed: bool },
}

impl Addresses {
    fn read() -> Self {
        // Followed before the first read, so no change falls between the two.
        let follow =
            InterfaceChanges::open().map_or(Follow::Timed { missed: false }, Follow::Announced);
        Self {
            current: read_local_addrs(),
            read_at: Instant::now(),
            follow,
        }
    }

    fn place(&mut self, packet: &crate::packet::PacketMeta) -> Placement {
        let placement = self.current.place(packet);
        if let Follow::Timed { missed } = &mut self.follow {
            *missed |= placement == Placement::Transit;
        }
        placement
    }

    /// Reads the addresses again when due; whether it did.
    fn refresh_if_due(&mut self, now: Instant) -> bool {
        let age = now.duration_since(self.read_at);
        let due = match &mut self.follow {
            Follow::Announced(changes) => changes.changed() || age >= ADDRESS_REFRESH_ANNOUNCED,
            Follow::Timed { missed } => {
                age >= ADDRESS_REFRESH || (*missed && age >= ADDRESS_REFRESH_ON_MISS)
            }
        };
        if due {
            let fresh = read_local_addrs();
            if fresh != self.current {
                tracing::info!(addresses = fresh.len(), "this machine's addresses changed");
            }
            self.current = fresh;
            self.read_at = now;
            if let Follow::Timed { missed } = &mut self.follow {
                *missed = false;
            }
        }
        due
    }
}

fn read_local_addrs() -> LocalAddrs {
    LocalAddrs::of_this_machine().unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot read this machine's addresses");
        LocalAddrs::default()
    })
}

/// The current sampling window.
struct Window {
    interval: Duration,
    /// The interval of the windows after this one.
    next_interval: Duration,
    started: Instant,
    started_ms: i64,
    /// Its end, where the source cuts its batches (see [`CaptureSource::cut_at`]).
    cut: Cut,
    /// The window before it was published with nothing in it (see [`QUIET_WINDOWS`]).
    after_empty: bool,
}

impl Window {
    fn starting_now(interval: Duration) -> Self {
        let window = Self {
            interval,
            next_interval: interval,
            started: Instant::now(),
            started_ms: unix_ms(),
            cut: Cut::default(),
            after_empty: false,
        };
        window.cut.store(window.end_micros(), Ordering::Relaxed);
        window
    }

    fn end(&self) -> Instant {
        self.started + self.interval
    }

    /// Its end, µs since the epoch (where the capture cuts its batches).
    fn end_micros(&self) -> i64 {
        let interval = i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX / 2000);
        self.started_ms
            .saturating_add(interval)
            .saturating_mul(1000)
    }

    /// Nothing came in it since it started (the last batch came at `last_batch`), and the
    /// window before it was published empty.
    fn is_quiet(&self, last_batch: Instant) -> bool {
        self.after_empty && last_batch < self.started
    }

    /// How long until it is due to close: `grace` after its end; when it runs on (quiet, see
    /// [`QUIET_WINDOWS`]), that many intervals after its start.
    fn time_left(&self, now: Instant, grace: Duration, runs_on: bool) -> Duration {
        let due = self.end() + grace;
        let due = if runs_on {
            due.max(self.started + self.interval * QUIET_WINDOWS)
        } else {
            due
        };
        due.saturating_duration_since(now)
    }

    fn is_over(&self, now: Instant) -> bool {
        now >= self.end()
    }

    /// Closes the window ahead of a batch that arrived at `arrived` (its oldest packet captured
    /// at `captured_from`, when the source tells) if the batch is a later window's: captured
    /// after this one's end, or come after this one ran on quietly past its end and `grace`.
    /// Returns the sample with when it is due to be published, `grace` after the window's end,
    /// as the others are.
    fn close_before(
        &mut self,
        tracker: &mut Tracker,
        captured_from: Option<i64>,
        arrived: Instant,
        grace: Duration,
    ) -> Option<(Instant, Sample)> {
        let after = captured_from >= Some(self.end_micros());
        let overdue = self.time_left(arrived, grace, false).is_zero();
        ((after && self.is_over(arrived)) || overdue).then(|| {
            let due = self.end() + grace;
            (due, self.close(tracker, arrived, grace))
        })
    }

    /// Emits the window's sample and starts the next one. Closed up to `grace` after its end
    /// (a capture that cuts its batches there), it ends at its end, not now; later, after a
    /// sleep, it simply ran long: the sample says how long, so no rate is invented.
    fn close(&mut self, tracker: &mut Tracker, now: Instant, grace: Duration) -> Sample {
        let end = now
            .checked_sub(grace)
            .map_or(now, |late| late.max(self.end()).min(now));
        let early = i64::try_from(now.duration_since(end).as_millis()).unwrap_or(0);
        let end_ms = (unix_ms() - early).max(self.started_ms);
        let sample = tracker.close(self.started_ms, end_ms, now);
        self.after_empty = sample.usage.is_empty();
        self.started = end;
        self.started_ms = end_ms;
        self.interval = self.next_interval;
        self.cut.store(self.end_micros(), Ordering::Relaxed);
        sample
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::NoOwners;
    use crate::domains::DomainPolicy;
    use crate::packet::{PacketMeta, Transport};
    use crate::sample::UNKNOWN_APP;
    use crate::tracker::TrackerOptions;

    /// A batch to hand over: when after the start, what it holds, and when its oldest packet
    /// was captured (µs since the epoch), if the source tells.
    type Scripted = (Duration, Vec<Observation>, Option<i64>);

    /// Replays scripted batches, each at its time after `started`, then asks to stop at `stop`.
    struct Replay {
        batches: std::collections::VecDeque<Scripted>,
        started: Instant,
        stop: Duration,
        from: Option<i64>,
        controls: Controls,
    }

    impl Replay {
        fn new(
            started: Instant,
            batches: Vec<Scripted>,
            stop: Duration,
            controls: &Controls,
        ) -> Self {
            Self {
                batches: batches.into(),
                started,
                stop,
                from: None,
                controls: controls.clone(),
            }
        }
    }

    impl CaptureSource for Replay {
        fn describe(&self) -> String {
            "replay".into()
        }

        fn poll(&mut self, batch: &mut Vec<Observation>) -> Result<(), CaptureError> {
            let until = |at| (self.started + at).saturating_duration_since(Instant::now());
            let Some((at, mut observations, from)) = self.batches.pop_front() else {
                thread::sleep(until(self.stop));
                self.controls.stop.store(true, Ordering::Relaxed);
                return Ok(());
            };
            thread::sleep(until(at));
            batch.append(&mut observations);
            self.from = from;
            Ok(())
        }

        fn captured_from(&self) -> Option<i64> {
            self.from
        }
    }

    #[test]
    fn the_last_window_is_emitted_when_capture_stops() {
        let own: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let packet = PacketMeta {
            src: own,
            dst: "192.0.2.1".parse().unwrap(),
            transport: Transport::Udp {
                src_port: 1,
                dst_port: 2,
            },
            ip_len: 321,
        };
        let sample = replay(vec![packet; 3], false);
        assert_eq!(sample.bytes_of(UNKNOWN_APP, crate::Direction::Sent), 963);
        assert_eq!(sample.stats.skipped_frames, 1);
        assert!(sample.end_ms >= sample.start_ms);
    }

    #[test]
    fn nothing_is_counted_while_paused() {
        let packet = PacketMeta {
            src: "127.0.0.1".parse().unwrap(),
            dst: "192.0.2.1".parse().unwrap(),
            transport: Transport::Other { protocol: 1 },
            ip_len: 84,
        };
        let sample = replay(vec![packet; 2], true);
        assert!(sample.usage.is_empty());
        assert_eq!(sample.stats, crate::sample::SampleStats::default());
    }

    #[test]
    fn a_flow_takes_the_answer_given_before_it_even_when_one_batch_holds_a_later_one() {
        // One batch, in capture order: the answer for the site, the whole connection to its
        // address, then an answer giving the same address another name (a CDN). The flow is
        // named by what was known when it began, not by the newest answer.
        let server: std::net::IpAddr = "192.0.2.80".parse().unwrap();
        let answer = |host: &str| {
            Observation::Answers(vec![crate::domains::DnsAnswer {
                ip: server,
                host: host.into(),
                ttl: 300,
            }])
        };
        let segment = |flags: crate::packet::TcpFlags| {
            Observation::Packet(PacketMeta {
                src: "127.0.0.1".parse().unwrap(),
                dst: server,
                transport: Transport::Tcp {
                    src_port: 40000,
                    dst_port: 5201,
                    flags,
                },
                ip_len: 1000,
            })
        };
        let syn = crate::packet::TcpFlags {
            syn: true,
            ..Default::default()
        };
        let observations = [answer("data.epsilon-files.com"), segment(syn)]
            .into_iter()
            .chain((0..5).map(|_| segment(Default::default())))
            .chain([answer("www.never-fetched.com")])
            .collect();
        let domains = DomainPolicy {
            tracking: crate::config::DomainTracking::All,
            ..DomainPolicy::default()
        };
        let sample = replay_with(observations, false, domains);
        let hosts: Vec<(&str, u64)> = sample
            .usage
            .iter()
            .map(|usage| {
                let host = usage.destination.as_ref().map_or("", |to| to.host.as_str());
                (host, usage.bytes)
            })
            .collect();
        assert_eq!(hosts, [("data.epsilon-files.com", 6000)]);
    }

    /// Sends one UDP packet of `length` bytes from this machine every 2 ms until dropped.
    struct Steady {
        length: u32,
        dropped: Arc<AtomicBool>,
    }

    impl CaptureSource for Steady {
        fn describe(&self) -> String {
            format!("steady {}", self.length)
        }

        fn poll(&mut self, batch: &mut Vec<Observation>) -> Result<(), CaptureError> {
            thread::sleep(Duration::from_millis(2));
            batch.push(Observation::Packet(PacketMeta {
                src: "127.0.0.1".parse().unwrap(),
                dst: "192.0.2.1".parse().unwrap(),
                transport: Transport::Udp {
                    src_port: 1,
                    dst_port: 2,
                },
                ip_len: self.length,
            }));
            Ok(())
        }
    }

    impl Drop for Steady {
        fn drop(&mut self) {
            self.dropped.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_change_sets_the_next_windows_and_swaps_the_source() {
        let first_dropped = Arc::new(AtomicBool::new(false));
        let source = Steady {
            length: 100,
            dropped: Arc::clone(&first_dropped),
        };
        let controls = Controls::default();
        let tracker = Tracker::new(Box::new(NoOwners), TrackerOptions::default());
        let mut change = Some(Change {
            interval: Some(Duration::from_millis(300)),
            domains: None,
            reopen: Some(Box::new(|| {
                Some(Box::new(Steady {
                    length: 7,
                    dropped: Arc::new(AtomicBool::new(false)),
                }) as Box<dyn CaptureSource>)
            })),
        });
        let mut samples: Vec<Sample> = Vec::new();
        let stop = Arc::clone(&controls.stop);
        let interval = Duration::from_millis(100);
        run_steered(
            Box::new(source),
            tracker,
            interval,
            &controls,
            || change.take(),
            |sample| {
                samples.push(sample);
                if samples.len() == 4 {
                    stop.store(true, Ordering::SeqCst);
                }
            },
        )
        .unwrap();
        let lengths: Vec<i64> = samples.iter().map(|s| s.end_ms - s.start_ms).collect();
        assert!(
            lengths[0] < 250,
            "the window under way keeps its length: {lengths:?}"
        );
        assert!(lengths[1..3].iter().all(|&ms| ms >= 290), "{lengths:?}");
        samples
            .windows(2)
            .for_each(|pair| assert_eq!(pair[0].end_ms, pair[1].start_ms));
        assert!(
            first_dropped.load(Ordering::SeqCst),
            "the old source is closed"
        );
        let later = samples[2].bytes_of(UNKNOWN_APP, crate::Direction::Sent);
        assert!(
            later > 0 && later.is_multiple_of(7),
            "only the new source: {later}"
        );
    }

    /// Waits up to a minute for its wake, as an idle capture does; counts its wakes.
    struct Sleeper {
        wake: Option<Wake>,
        woken: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl CaptureSource for Sleeper {
        fn describe(&self) -> String {
            "sleeper".into()
        }

        fn poll(&mut self, _batch: &mut Vec<Observation>) -> Result<(), CaptureError> {
            let wake = self.wake.as_ref().expect("the monitor hands its wake over");
            let mut fd = libc::pollfd {
                fd: wake.fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut fd, 1, 60_000) } > 0 {
                wake.drain();
                self.woken.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        }

        fn wake_on(&mut self, wake: &Wake) {
            self.wake = Some(wake.clone());
        }
    }

    #[test]
    fn a_stop_or_a_new_source_wakes_an_idle_capture_at_once() {
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sleeper = |woken: &Arc<_>| Sleeper {
            wake: None,
            woken: Arc::clone(woken),
        };
        let replacement = sleeper(&woken);
        let mut change = Some(Change {
            reopen: Some(Box::new(move || {
                Some(Box::new(replacement) as Box<dyn CaptureSource>)
            })),
            ..Change::default()
        });
        let controls = Controls::default();
        let tracker = Tracker::new(Box::new(NoOwners), TrackerOptions::default());
        let started = Instant::now();
        thread::scope(|scope| {
            let stopper = controls.clone();
            let first_woken = Arc::clone(&woken);
            scope.spawn(move || {
                // The reopen wakes the first source; then the stop wakes the new one.
                while first_woken.load(Ordering::SeqCst) == 0 {
                    thread::sleep(Duration::from_millis(10));
                }
                thread::sleep(Duration::from_millis(200));
                stopper.request_stop();
            });
            run_steered(
                Box::new(sleeper(&woken)),
                tracker,
                Duration::from_secs(60),
                &controls,
                || change.take(),
                drop,
            )
            .unwrap();
        });
        assert_eq!(woken.load(Ordering::SeqCst), 2, "each source woken once");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "stopped after {took:?}");
    }

    #[test]
    fn packets_captured_before_a_window_ends_count_in_it_when_they_come_late() {
        let sent = |len| {
            Observation::Packet(PacketMeta {
                src: "127.0.0.1".parse().unwrap(),
                dst: "192.0.2.1".parse().unwrap(),
                transport: Transport::Udp {
                    src_port: 1,
                    dst_port: 2,
                },
                ip_len: len,
            })
        };
        let (started, start) = (Instant::now(), crate::clock::unix_micros());
        let ms = |millis| Duration::from_millis(millis);
        // Windows of 400 ms. The second batch comes after the first window's end but was
        // captured before it; the third was captured after it.
        let batches = vec![
            (ms(100), vec![sent(100)], Some(start + 50_000)),
            (ms(500), vec![sent(200)], Some(start + 370_000)),
            (ms(600), vec![sent(400)], Some(start + 550_000)),
        ];
        let controls = Controls::default();
        let source = Replay::new(started, batches, ms(1000), &controls);
        let tracker = Tracker::new(Box::new(NoOwners), TrackerOptions::default());
        let (mut samples, mut published) = (Vec::new(), Vec::new());
        run(Box::new(source), tracker, ms(400), &controls, |sample| {
            samples.push(sample);
            published.push(started.elapsed());
        })
        .unwrap();
        // The third batch ends the first window at 600 ms; it is published at its end and
        // grace, 800 ms, as every window would be.
        assert!(
            published[0] >= ms(790),
            "the first window published at {:?}",
            published[0]
        );
        let sent_in = |sample: &Sample| sample.bytes_of(UNKNOWN_APP, crate::Direction::Sent);
        let counted: Vec<u64> = samples.iter().map(sent_in).collect();
        assert_eq!(
            counted,
            [300, 400],
            "each batch in the window it was captured in"
        );
        let first = samples[0].end_ms - samples[0].start_ms;
        assert!(
            (400..420).contains(&first),
            "the first window lasted {first} ms"
        );
    }

    #[test]
    fn a_window_with_nothing_in_it_runs_on_until_traffic_comes() {
        let sent = Observation::Packet(PacketMeta {
            src: "127.0.0.1".parse().unwrap(),
            dst: "192.0.2.1".parse().unwrap(),
            transport: Transport::Other { protocol: 1 },
            ip_len: 84,
        });
        let ms = |millis| Duration::from_millis(millis);
        // Windows of 100 ms: quiet ones run on up to 1.2 s. Nothing comes for 2 s, then one
        // packet; the stop comes at 2.25 s.
        let started = Instant::now();
        let controls = Controls::default();
        let batches = vec![(ms(2000), vec![sent], None)];
        let source = Replay::new(started, batches, ms(2250), &controls);
        let tracker = Tracker::new(Box::new(NoOwners), TrackerOptions::default());
        let mut published = Vec::new();
        run(Box::new(source), tracker, ms(100), &controls, |sample| {
            published.push((started.elapsed(), sample));
        })
        .unwrap();
        let seen: Vec<(u128, i64, u64)> = published
            .iter()
            .map(|(at, sample)| {
                let bytes = sample.bytes_of(UNKNOWN_APP, crate::Direction::Sent);
                (at.as_millis(), sample.end_ms - sample.start_ms, bytes)
            })
            .collect();
        // The first window closes at its end; the next, after an empty one, runs on to its
        // limit (12 intervals), and the one after that until the packet comes. The packet's
        // window closes at its end, and so does the empty one after it (the feed shows its
        // traffic end), until the stop.
        let expected = [
            (100, 100, 0),
            (1300, 1200, 0),
            (2000, 700, 0),
            (2100, 100, 84),
        ];
        assert!(seen.len() >= expected.len(), "{seen:?}");
        seen.iter().zip(expected).for_each(
            |(&(at, long, bytes), (at_about, long_about, bytes_then))| {
                assert!(at.abs_diff(at_about) < 40, "{seen:?}");
                assert!(long.abs_diff(long_about) < 40, "{seen:?}");
                assert_eq!(bytes, bytes_then, "{seen:?}");
            },
        );
        assert!(seen.len() <= 6, "no more windows than these: {seen:?}");
    }

    #[test]
    fn a_nudge_wakes_a_quiet_monitor_to_ask_for_changes() {
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sleeper = Sleeper {
            wake: None,
            woken: Arc::clone(&woken),
        };
        let controls = Controls::default();
        let tracker = Tracker::new(Box::new(NoOwners), TrackerOptions::default());
        let asked = AtomicBool::new(false);
        let started = Instant::now();
        let (mut windows, mut changed_at) = (0, None);
        thread::scope(|scope| {
            let (nudger, asking) = (controls.clone(), &asked);
            scope.spawn(move || {
                // Windows of 100 ms: by 900 ms the monitor sleeps through a quiet one (the
                // second, due to close at 1.3 s).
                thread::sleep(Duration::from_millis(900));
                asking.store(true, Ordering::SeqCst);
                nudger.nudge();
                thread::sleep(Duration::from_millis(200));
                nudger.request_stop();
            });
            run_steered(
                Box::new(sleeper),
                tracker,
                Duration::from_millis(100),
                &controls,
                || {
                    if changed_at.is_none() && asked.load(Ordering::SeqCst) {
                        changed_at = Some(started.elapsed());
                    }
                    None
                },
                |_| windows += 1,
            )
            .unwrap();
        });
        let changed_at = changed_at.expect("asked for the change");
        assert!(
            changed_at < Duration::from_millis(1000),
            "asked at {changed_at:?}, nudged at 900 ms"
        );
        assert_eq!(
            windows, 2,
            "the first, and the quiet one closed by the stop"
        );
        assert_eq!(woken.load(Ordering::SeqCst), 2, "by the nudge and the stop");
    }

    /// Runs the monitor over `packets` and returns the one sample it emits.
    fn replay(packets: Vec<PacketMeta>, paused: bool) -> Sample {
        let observations = packets
            .into_iter()
            .map(Observation::Packet)
            .chain([Observation::Unreadable])
            .collect();
        replay_with(observations, paused, DomainPolicy::default())
    }

    fn replay_with(observations: Vec<Observation>, paused: bool, domains: DomainPolicy) -> Sample {
        let controls = Controls::default();
        controls.paused.store(paused, Ordering::Relaxed);
        // One batch at once, without capture times; a stop 30 ms later.
        let batches = vec![(Duration::ZERO, observations, None)];
        let source = Replay::new(
            Instant::now(),
            batches,
            Duration::from_millis(30),
            &controls,
        );
        let tracker =
            Tracker::new(Box::new(NoOwners), TrackerOptions::default()).with_domains(domains);
        let mut samples = Vec::new();
        let interval = Duration::from_secs(60);
        run(Box::new(source), tracker, interval, &controls, |sample| {
            samples.push(sample)
        })
        .unwrap();
        assert_eq!(samples.len(), 1);
        samples.remove(0)
    }
}
