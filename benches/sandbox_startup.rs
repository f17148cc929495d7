//! Sandbox start-up overhead: `true` under the bubblewrap runner (every
//! namespace, rlimits, uid drop, output capture) against a bare fork/exec of
//! `true`, N times each, interleaved. Prints p50/p99 and the added p50.
//!
//! Run: `cargo bench --bench sandbox_startup` (env: BENCH_RUNS=200).

use std::time::{Duration, Instant};

use cpos::config::SandboxSettings;
use cpos::sandbox::Runner;

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let ws = tempfile::tempdir().unwrap();
    let runner = Runner::new(SandboxSettings {
        workspace: ws.path().to_owned(),
        ..SandboxSettings::default()
    });
    if let Err(why) = runner.availability() {
        eprintln!("bubblewrap unavailable: {why}");
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let argv = vec!["/usr/bin/true".to_owned()];
    let (mut bare, mut sandboxed) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let status = std::process::Command::new("/usr/bin/true")
            .status()
            .unwrap();
        assert!(status.success());
        bare.push(t.elapsed());
        let t = Instant::now();
        let result = runtime
            .block_on(runner.run(&argv, ws.path(), false))
            .unwrap();
        assert!(result.passed());
        sandboxed.push(t.elapsed());
    }
    let (b50, b99) = (percentile(&mut bare, 0.5), percentile(&mut bare, 0.99));
    let (s50, s99) = (
        percentile(&mut sandboxed, 0.5),
        percentile(&mut sandboxed, 0.99),
    );
    println!("## Sandbox start-up, {runs} runs each (`true`)\n");
    println!("| | p50 | p99 |\n|---|---:|---:|");
    println!("| bare fork/exec | {:.2} ms | {:.2} ms |", ms(b50), ms(b99));
    println!(
        "| bubblewrap runner | {:.2} ms | {:.2} ms |",
        ms(s50),
        ms(s99)
    );
    println!(
        "\n- added p50: {:.2} ms (target ≤ 10 ms)",
        ms(s50) - ms(b50)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
