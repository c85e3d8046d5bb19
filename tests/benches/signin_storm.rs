//! Sign-in storm: memory and answers of the IdP when many password sign-ins
//! arrive at once. Each sign-in hashes with argon2id (~19 MiB); unbounded, 200 at
//! once once drove the IdP from ~200 MiB to 4.1 GiB. The baseline measured in the
//! same run is the same number of sign-ins one after another, so the table's
//! ratio is what concurrency adds to the peak. Every attempt comes from its own
//! loopback address with its own username, so throttling does not hide the
//! pool. `cargo bench -p gatehouse-tests --bench signin_storm` (`-- --quick`: 50).

use gatehouse_tests::login_form_binding;
use std::time::Instant;

/// A field of /proc/self/status in MiB (VmRSS, VmHWM).
fn status_mib(field: &str) -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = s
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024.0
}

/// Resets the peak RSS (VmHWM) to the current RSS.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

struct Outcome {
    peak_mib: f64,
    secs: f64,
    wrong: usize,
    busy: usize,
    other: usize,
}

async fn storm(i: &demo::DemoInfo, n: usize, concurrent: bool, offset: usize) -> Outcome {
    let mut prepared = Vec::new();
    for k in 0..n {
        let k = k + offset;
        let source: std::net::IpAddr = format!("127.1.{}.{}", k / 250, 1 + k % 250)
            .parse()
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(source)
            .build()
            .unwrap();
        let params = [
            ("response_type", "code"),
            ("client_id", "code-agent"),
            ("redirect_uri", demo::REDIRECT_URI),
            ("scope", "openid"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ];
        let (cookie, token) = login_form_binding(&http, &i.idp, &params).await;
        let mut form: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        form.push(("username".into(), format!("storm{k}")));
        form.push(("password".into(), "wrong".into()));
        form.push(("form_token".into(), token));
        prepared.push((http, cookie, form));
    }
    let url = format!("{}/authorize", i.idp);
    reset_peak();
    let start = Instant::now();
    let send = |(http, cookie, form): (reqwest::Client, String, Vec<(String, String)>)| {
        let url = url.clone();
        async move {
            http.post(url)
                .header(reqwest::header::COOKIE, cookie)
                .form(&form)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    let mut statuses = Vec::new();
    if concurrent {
        let tasks: Vec<_> = prepared
            .into_iter()
            .map(|p| tokio::spawn(send(p)))
            .collect();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
    } else {
        for p in prepared {
            statuses.push(send(p).await);
        }
    }
    Outcome {
        peak_mib: status_mib("VmHWM:"),
        secs: start.elapsed().as_secs_f64(),
        wrong: statuses.iter().filter(|s| **s == 401).count(),
        busy: statuses.iter().filter(|s| **s == 503).count(),
        other: statuses.iter().filter(|s| **s != 401 && **s != 503).count(),
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 50 } else { 200 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let d = demo::start(demo::DemoOptions::default()).await.unwrap();
        let i = &d.info;
        let _ = gatehouse_tests::sign_in(i, "alice", "code-agent", false).await;
        let before = status_mib("VmRSS:");
        let one_by_one = storm(i, n, false, 0).await;
        let at_once = storm(i, n, true, n).await;
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        println!("Sign-in storm ({n} wrong-password sign-ins, {cores} cores, argon2id m=19 MiB)");
        println!(
            "{:<44}{:>10}{:>8}{:>8}{:>8}{:>8}",
            "measure", "peak MiB", "s", "401", "503", "other"
        );
        println!("{}", "-".repeat(86));
        println!("{:<44}{:>10.1}", "process RSS before", before);
        for (name, o) in [
            ("baseline: one after another", &one_by_one),
            ("all at once", &at_once),
        ] {
            println!(
                "{:<44}{:>10.1}{:>8.2}{:>8}{:>8}{:>8}",
                name, o.peak_mib, o.secs, o.wrong, o.busy, o.other
            );
        }
        println!(
            "{:<44}{:>10.2}",
            "peak ratio (all at once / one after another)",
            at_once.peak_mib / one_by_one.peak_mib
        );
        assert_eq!(
            at_once.other + one_by_one.other,
            0,
            "every answer is 401 or 503"
        );
        assert_eq!(one_by_one.busy, 0, "one at a time is never refused");
    });
}
