//! The README's "Drive it with the agent" recipe, run as written: a newcomer
//! pastes it and it works. The block is read from README.md (so an edit there is
//! what gets tested); only its file paths are swapped for fresh ones, so a line
//! left by an earlier run cannot be mistaken for this run's. The stack's log goes
//! to its own file, so the agent's steps reach the terminal uninterleaved — the
//! test reads the agent's stderr alone and would see a log line in the middle.

use std::{
    os::unix::process::CommandExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn recipe() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let section = &readme[readme
        .find("### Drive it with the agent")
        .expect("the recipe's heading")..];
    section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a sh block under the heading")
        .to_owned()
}

#[test]
fn the_readme_agent_recipe_works_as_pasted() {
    let block = recipe();
    assert!(
        block.contains("--stack"),
        "the recipe starts the headless stack"
    );
    assert!(
        !block.contains("--audience"),
        "the agent discovers the audience"
    );
    let dir = tempfile::tempdir().unwrap();
    let line = dir.path().join("demo.json");
    assert!(
        block.contains("2> /tmp/demo.log"),
        "the stack's log does not interleave with the agent's steps"
    );
    let script = block.replace("/tmp/demo.", &format!("{}/demo.", dir.path().display()));
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id();
    // Bounded: the stack builds (warm) and starts, then one agent run.
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > Duration::from_secs(600) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Whatever happened, nothing the recipe started outlives the test.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = status.unwrap_or_else(|| panic!("the recipe did not finish in 600 s\n{stderr}"));
    assert!(status.success(), "the recipe failed: {status}\n{stderr}");
    for step in [
        "✓ sign in as alice",
        "✓ discovery (RFC 9728, 8414)",
        "authorization server: http://127.0.0.1:",
        "✓ token exchange (ID-JAG)",
        "✓ redeem at resource AS",
        "✓ MCP tool list_records",
    ] {
        assert!(
            stderr.lines().any(|l| l.trim_start().starts_with(step)),
            "no line starting `{step}` in\n{stderr}"
        );
    }
    assert!(!stdout.trim().is_empty(), "the tool's records are printed");
    // The demo's secrets never reach the terminal.
    let log = std::fs::read_to_string(dir.path().join("demo.log")).unwrap();
    assert!(
        log.contains("demo stack ready"),
        "the stack logs to its file"
    );
    assert!(
        !stderr.contains("rmcp::"),
        "no stack log line on the agent's terminal"
    );
    let demo = std::fs::read_to_string(&line).unwrap();
    let v: serde_json::Value = serde_json::from_str(demo.lines().next().unwrap()).unwrap();
    for c in v["clients"].as_array().unwrap() {
        let secret = c["client_secret"].as_str().unwrap();
        assert!(!stderr.contains(secret) && !stdout.contains(secret));
    }
}
