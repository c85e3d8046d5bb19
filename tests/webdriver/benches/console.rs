//! Console benchmark, printed as a table. With a large store (default 100k
//! connections, 10k pending requests; `--quick`: 10k / 1k):
//! - filter / search latency of the admin API calls behind the screens, as
//!   ratios to the cheapest authenticated call (`whoami`) in the same run;
//! - cold start of the real console (saved profile, session restored from the
//!   OS keychain, no prompt) to the pending queue served, and the memory of its
//!   whole process tree (PSS: app + WebKit processes), both as ratios to a
//!   minimal Tauri window (`src-tauri/examples/minimal_window.rs`) started the
//!   same way in the same run. The console runs with the WebKit settings it
//!   chooses for itself (`src-tauri/src/webview_tuning.rs`), the minimal window
//!   with WebKit's defaults.
//!
//! Needs `GATEHOUSE_APP` and `GATEHOUSE_MINIMAL_WINDOW` (binaries), a display,
//! and an unlocked keyring: `scripts/console-bench.sh` sets all of that up.

use console::{Console, KeychainStore, ProfileStore, session::OpenUrl};
use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, mpsc},
    time::{Duration, Instant},
};

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn timed<F, Fut, T>(reps: usize, mut f: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut ms = Vec::with_capacity(reps);
    f().await; // warm
    for _ in 0..reps {
        let t = Instant::now();
        f().await;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (percentile(&mut ms, 0.5), percentile(&mut ms, 0.99))
}

/// Where one process's PSS lies, in MiB, by kind of mapping (from
/// `/proc/PID/smaps`): anonymous memory (JavaScript heap, DOM and render tree,
/// compositing layers in a WebKit process), the malloc heap, the GL stack (Mesa's
/// software rasteriser and LLVM under Xvfb), WebKit's and JavaScriptCore's code,
/// the program's own file, other libraries.
fn pss_by_kind(pid: u32) -> Vec<(&'static str, f64)> {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return vec![];
    };
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let kinds = [
        "anonymous",
        "heap",
        "GL",
        "WebKit+JSC code",
        "program",
        "other libs",
    ];
    let mut kib = [0u64; 6];
    let mut kind = 0;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let name = line.split_whitespace().nth(5).unwrap_or("");
            kind = if name.is_empty()
                || name.starts_with("memfd:")
                || name.starts_with("[anon")
                || name == "[stack]"
                || name.starts_with("/SYSV")
            {
                0
            } else if name == "[heap]" {
                1
            } else if [
                "libLLVM",
                "_dri.so",
                "libgallium",
                "libGL",
                "libEGL",
                "libepoxy",
                "libgbm",
            ]
            .iter()
            .any(|g| name.contains(g))
            {
                2
            } else if name.contains("libwebkit2gtk") || name.contains("libjavascriptcoregtk") {
                3
            } else if name == exe {
                4
            } else {
                5
            };
        } else if first == "Pss:" {
            kib[kind] += fields
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    kinds
        .iter()
        .zip(kib)
        .map(|(k, v)| (*k, v as f64 / 1024.0))
        .collect()
}

/// Sum of `Pss:` over `root` and all its descendants, in MiB, and per process
/// (with [`pss_by_kind`]).
#[allow(clippy::type_complexity)]
fn pss_tree_mib(root: u32) -> (f64, Vec<(String, f64, Vec<(&'static str, f64)>)>) {
    let mut parent = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            && let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r)
            && let Some(ppid) = rest
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok())
        {
            parent.insert(pid, ppid);
        }
    }
    let in_tree = |mut p: u32| loop {
        if p == root {
            return true;
        }
        match parent.get(&p) {
            Some(&pp) if pp != 0 && pp != p => p = pp,
            _ => return false,
        }
    };
    let mut kib = 0u64;
    let mut each = Vec::new();
    for &pid in parent.keys() {
        if in_tree(pid)
            && let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        {
            let k = s
                .lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
            kib += k;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            each.push((comm.trim().to_string(), k as f64 / 1024.0, pss_by_kind(pid)));
        }
    }
    each.sort_by(|a, b| b.1.total_cmp(&a.1));
    (kib as f64 / 1024.0, each)
}

struct Started {
    child: Child,
    ready_after: Duration,
}

/// Spawns `bin` and waits until a stderr line satisfies `ready`.
fn start_until(bin: &str, env: &[(&str, &str)], ready: fn(&str) -> bool) -> Started {
    let t = Instant::now();
    let mut cmd = Command::new(bin);
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("GATEHOUSE_DEMO");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{bin}: {e}"));
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    // The last lines it wrote, to say where it stopped if it never gets ready.
    let tail = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
    std::thread::spawn({
        let tail = tail.clone();
        move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if ready(&line) {
                    let _ = tx.send(());
                }
                let mut tail = tail.lock().unwrap();
                if tail.len() == 30 {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(90)).is_err() {
        let _ = child.kill();
        let tail: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
        panic!(
            "{bin} never became ready in 90 s; its last lines:\n{}",
            tail.join("\n")
        );
    }
    Started {
        ready_after: t.elapsed(),
        child,
    }
}

fn stop(mut s: Started) {
    let _ = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status();
    let _ = s.child.wait();
}

fn queue_served(line: &str) -> bool {
    line.contains("pending queue served")
        && line
            .split("shown=")
            .nth(1)
            .is_some_and(|v| !v.starts_with('0'))
}

/// A FAKE system browser for the one-time sign-in before the runs: fills in the
/// demo IdP's login form as `user`.
fn browser(user: &demo::DemoUser) -> OpenUrl {
    let user = agent::UserCreds {
        username: user.username.clone(),
        password: user.password.clone(),
        totp_secret: user.totp_secret.clone(),
    };
    Arc::new(move |url: String| {
        let user = user.clone();
        tokio::spawn(async move {
            let http = agent::http_client();
            let location = agent::submit_login(&http, &url, &user, false)
                .await
                .expect("login form");
            http.get(location).send().await.expect("loopback redirect");
        });
        Ok(())
    })
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n_conn, n_pending, reps, runs) = if quick {
        (10_000, 1_000, 5, 1)
    } else {
        (100_000, 10_000, 30, 3)
    };
    let data = tempfile::tempdir().unwrap();
    let d = demo::start(demo::DemoOptions {
        data_dir: Some(data.path().to_path_buf()),
        ..Default::default()
    })
    .await
    .unwrap();
    let t = Instant::now();
    demo::scale::seed(&d, n_conn, n_pending).await.unwrap();
    let seeded = t.elapsed();
    let admin = gatehouse_tests::admin_session(&d.info, "carol", false).await;

    // Filter and search latency behind the screens.
    let base = timed(reps, || admin.whoami()).await;
    let q = |pairs: Vec<(&'static str, String)>| {
        let admin = admin.clone();
        move || {
            let admin = admin.clone();
            let pairs = pairs.clone();
            async move {
                admin
                    .list_requests(&gatehouse_tests::query(&pairs))
                    .await
                    .unwrap()
            }
        }
    };
    let c = |pairs: Vec<(&'static str, String)>| {
        let admin = admin.clone();
        move || {
            let admin = admin.clone();
            let pairs = pairs.clone();
            async move {
                admin
                    .list_connections(&gatehouse_tests::query(&pairs))
                    .await
                    .unwrap()
            }
        }
    };
    let pending_q = vec![
        ("status", "pending".to_string()),
        ("sort", "age".into()),
        ("limit", "500".into()),
    ];
    let search_q = vec![("q", "agent-0250".to_string()), ("limit", "500".into())];
    let conn_default = vec![("status", "active".to_string()), ("limit", "500".into())];
    let conn_search = vec![
        ("status", "active".to_string()),
        ("q", "agent-01234".into()),
        ("limit", "500".into()),
    ];
    let conn_risk = vec![
        ("risk", "destructive".to_string()),
        ("sort", "client".into()),
        ("limit", "500".into()),
    ];
    let rows = [
        (
            "Pending queue (age order, first 500)",
            timed(reps, q(pending_q)).await,
        ),
        (
            "Pending search `agent-0250`",
            timed(reps, q(search_q)).await,
        ),
        (
            "Connections, active (first page of 500)",
            timed(reps, c(conn_default)).await,
        ),
        (
            "Connections search `agent-01234`",
            timed(reps, c(conn_search)).await,
        ),
        (
            "Connections risk ≥ destructive, by client",
            timed(reps, c(conn_risk)).await,
        ),
        ("Overview counts (/stats)", {
            let admin = admin.clone();
            timed(reps, move || {
                let admin = admin.clone();
                async move { admin.stats().await.unwrap() }
            })
            .await
        }),
    ];
    // One access review campaign over every live connection (one transaction).
    let judy = gatehouse_tests::admin_session(&d.info, "judy", true).await;
    let t = Instant::now();
    let campaign = judy
        .create_campaign(&admin_api::CreateCampaign {
            name: "everything".into(),
            scope: Default::default(),
            reviewers: vec!["ivan".into()],
            fallback_reviewer: "ivan".into(),
            starts_at: None,
            due_at: d.idp.now() + 86_400,
            default_action: admin_api::ReviewDefault::Recommendation,
            per_user: false,
            kind: admin_api::CampaignKind::Access,
        })
        .await
        .unwrap();
    let campaign_ms = t.elapsed().as_secs_f64() * 1000.0;
    let first_items = timed(reps, || {
        let judy = judy.clone();
        let id = campaign.id.clone();
        async move {
            judy.review_items(
                &id,
                &gatehouse_tests::query(&[
                    ("limit", "500".into()),
                    ("reviewer", "ivan".into()),
                    ("state", "open".into()),
                ]),
            )
            .await
            .unwrap()
        }
    })
    .await;

    // Cold start and memory: the console restoring a saved session vs a minimal window.
    let app = std::env::var("GATEHOUSE_APP").expect("GATEHOUSE_APP");
    let minimal = std::env::var("GATEHOUSE_MINIMAL_WINDOW").expect("GATEHOUSE_MINIMAL_WINDOW");
    let config_home = tempfile::tempdir().unwrap();
    let profiles = config_home
        .path()
        .join("dev.gatehouse.console")
        .join("profiles.json");
    let console = Console::new(
        ProfileStore::new(profiles),
        Arc::new(KeychainStore::default()),
        Duration::from_secs(900),
    );
    let (p, _) = console
        .add_profile("Scale IdP", &d.info.idp, &d.info.console_client_id)
        .await
        .expect("profile");
    console
        .sign_in_browser(&p.id, false, browser(d.info.user("carol")))
        .await
        .expect("one-time sign-in");
    drop(console);
    let home = config_home.path().to_str().unwrap().to_string();
    let env: Vec<(&str, &str)> = vec![("XDG_CONFIG_HOME", &home), ("RUST_LOG", "info")];
    let settle = Duration::from_secs(if quick { 2 } else { 4 });
    let measure = |bin: &str, extra: &[(&str, &str)], ready: fn(&str) -> bool| {
        let env: Vec<(&str, &str)> = env.iter().chain(extra).copied().collect();
        // One warm-up start (disk cache, font cache), then the measured runs.
        stop(start_until(bin, &env, ready));
        let mut times = vec![];
        let mut pss = vec![];
        let mut breakdown = vec![];
        for _ in 0..runs {
            let s = start_until(bin, &env, ready);
            times.push(s.ready_after.as_secs_f64() * 1000.0);
            std::thread::sleep(settle);
            let (total, each) = pss_tree_mib(s.child.id());
            pss.push(total);
            breakdown = each;
            stop(s);
        }
        (
            percentile(&mut times, 0.5),
            percentile(&mut pss, 0.5),
            breakdown,
        )
    };
    let minimal_loaded = |l: &str| l.contains("minimal window loaded");
    let (min_ms, min_pss, min_each) = measure(&minimal, &[], minimal_loaded);
    let (app_ms, app_pss, app_each) = measure(&app, &[], queue_served);
    // Both again with WebKit's accelerated compositing off: where no GPU serves
    // the window (Xvfb here, VMs, remote desktops) compositing a window full of
    // content on Mesa's software rasteriser is most of the console's excess.
    let flat = [("WEBKIT_DISABLE_COMPOSITING_MODE", "1")];
    let (_, min_flat_pss, _) = measure(&minimal, &flat, minimal_loaded);
    let (_, app_flat_pss, _) = measure(&app, &flat, queue_served);
    println!(
        "Gatehouse console benchmark ({}: {n_conn} connections, {n_pending} pending; seeded in {:.1} s)",
        if quick { "quick" } else { "full" },
        seeded.as_secs_f64()
    );
    println!(
        "{:<50} {:>9} {:>9} {:>10}",
        "measure", "p50 ms", "p99 ms", "p50 ratio"
    );
    println!("{}", "-".repeat(81));
    println!(
        "{:<50} {:>9.2} {:>9.2} {:>10}",
        "baseline: whoami (API floor)", base.0, base.1, "1.00"
    );
    for (name, (p50, p99)) in rows {
        println!("{name:<50} {p50:>9.2} {p99:>9.2} {:>10.2}", p50 / base.0);
    }
    println!(
        "{:<50} {:>9.2} {:>9.2} {:>10.2}",
        format!("Review items of one reviewer ({} items)", campaign.items),
        first_items.0,
        first_items.1,
        first_items.0 / base.0
    );
    println!(
        "{:<50} {campaign_ms:>9.0} {:>9} {:>10.0}",
        "Start a campaign over every connection (once)",
        "",
        campaign_ms / base.0
    );
    println!();
    println!(
        "{:<50} {:>12} {:>12}",
        "start-up (median of runs)", "ms / MiB", "ratio"
    );
    println!("{}", "-".repeat(76));
    println!(
        "{:<50} {:>12.0} {:>12}",
        "minimal Tauri window: start to page loaded", min_ms, "1.00"
    );
    println!(
        "{:<50} {:>12.0} {:>12.2}",
        "console: start to pending queue served",
        app_ms,
        app_ms / min_ms
    );
    println!(
        "{:<50} {:>12.1} {:>12}",
        "minimal Tauri window: PSS of process tree", min_pss, "1.00"
    );
    println!(
        "{:<50} {:>12.1} {:>12.2}",
        "console: PSS of process tree",
        app_pss,
        app_pss / min_pss
    );
    println!(
        "{:<50} {:>12.1} {:>12}",
        "  compositing off: minimal window", min_flat_pss, "1.00"
    );
    println!(
        "{:<50} {:>12.1} {:>12.2}",
        "  compositing off: console",
        app_flat_pss,
        app_flat_pss / min_flat_pss
    );
    for (who, each) in [("minimal", &min_each), ("console", &app_each)] {
        let parts: Vec<String> = each.iter().map(|(c, m, _)| format!("{c} {m:.0}")).collect();
        println!("  {who} by process (MiB): {}", parts.join(", "));
        for (c, _, kinds) in each.iter().take(2) {
            let parts: Vec<String> = kinds.iter().map(|(k, m)| format!("{k} {m:.0}")).collect();
            println!("    {c} by kind: {}", parts.join(", "));
        }
    }
}
