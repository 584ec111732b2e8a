//! `cargo xtask check-report`: makes a run's `report.html` (by default a partitioned simulated
//! run of stage 05) and checks it in a real browser: headless Chromium renders it, and the
//! check fails unless the page logged nothing to the console, every section's text is there,
//! every chart is an SVG with content, and the screenshot is not blank.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use grader::config::TestConfig;

/// How long Chromium may take for one page.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// Text the page must show.
const EXPECTED_TEXT: &[&str] = &[
    "Configuration",
    "Repeat it with",
    "Latency",
    "Messages sent per second",
    "Convergence",
    "Messages between nodes",
    "The workload's figures",
    "partition",
];

/// Finds Chromium: `$CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
fn chromium() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Ok(PathBuf::from(path));
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|path| path.is_file())
        });
        if let Some(path) = found {
            return Ok(path);
        }
    }
    bail!(
        "no Chromium found: install Debian's package (`apt-get install chromium`), or set CHROMIUM to the browser's path"
    )
}

/// Runs Chromium headless on `page` with `extra` flags; returns (stdout, stderr). Killed, with
/// an error, if it takes longer than [`BROWSER_TIMEOUT`].
fn run_browser(browser: &Path, page: &Path, extra: &[String]) -> anyhow::Result<(String, String)> {
    let scratch = tempfile::tempdir()?;
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", scratch.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", browser.display()))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).map(|_| text)
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).map(|_| text)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{} took over {BROWSER_TIMEOUT:?} and was killed",
                browser.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().expect("reader")?;
    let stderr = err.join().expect("reader")?;
    if !status.success() {
        bail!("{} exited with {status}: {stderr}", browser.display());
    }
    Ok((stdout, stderr))
}

/// What a rendered DOM must hold; the problems found, in words.
pub fn judge_dom(dom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for text in EXPECTED_TEXT {
        if !dom.contains(text) {
            problems.push(format!("the page does not show \"{text}\""));
        }
    }
    let svgs: Vec<&str> = dom.split("<svg").skip(1).collect();
    if svgs.len() < 4 {
        problems.push(format!(
            "the page has {} charts, expected at least 4",
            svgs.len()
        ));
    }
    for (index, svg) in svgs.iter().enumerate() {
        let body = svg.split("</svg>").next().unwrap_or("");
        let shapes = [
            "<circle",
            "<line",
            "<polyline",
            "<rect",
            "<path",
            "<polygon",
        ]
        .iter()
        .map(|shape| body.matches(shape).count())
        .sum::<usize>();
        if shapes < 10 {
            problems.push(format!(
                "chart {} has only {shapes} shapes drawn",
                index + 1
            ));
        }
    }
    problems
}

/// Makes the report of a partitioned simulated run, renders it in Chromium, and checks it.
pub fn check_report(keep_screenshot: Option<&Path>) -> anyhow::Result<()> {
    let browser = chromium()?;
    let root = crate::workspace_root();
    let store = root.join("store").join("check-report");
    let config = TestConfig::parse_command("--node-count 5 --time-limit 10 --rate 20 --latency 50 --latency-dist constant --nemesis partition --nemesis-interval 2 --recovery 3 --seed 1").expect("valid flags");
    let reproduce = config.reproduce_command("cargo xtask sim stage-05", &[]);
    let run = grader::sim::simulate_to_store::<stage_05_partition_healing::PartitionHealing>(
        &config,
        &[],
        &store,
        reproduce,
    )?;
    let page = run.store.join("report.html");
    println!("checking {} in {}", page.display(), browser.display());
    let (dom, stderr) = run_browser(&browser, &page, &["--dump-dom".into()])?;
    let mut problems = judge_dom(&dom);
    for line in stderr.lines().filter(|line| line.contains("CONSOLE")) {
        problems.push(format!("the page logged to the console: {line}"));
    }
    let screenshot = run.store.join("report.png");
    run_browser(
        &browser,
        &page,
        &[
            "--window-size=1100,2600".into(),
            format!("--screenshot={}", screenshot.display()),
        ],
    )?;
    let size = std::fs::metadata(&screenshot)
        .with_context(|| format!("Chromium wrote no screenshot at {}", screenshot.display()))?
        .len();
    // A blank page of this size compresses to a few kB; charts and text make it far larger.
    if size < 40_000 {
        problems.push(format!(
            "the screenshot is {size} bytes: the page looks blank"
        ));
    }
    if let Some(keep) = keep_screenshot {
        std::fs::copy(&screenshot, keep)
            .with_context(|| format!("cannot copy the screenshot to {}", keep.display()))?;
    }
    if problems.is_empty() {
        println!(
            "report.html rendered in Chromium: every section, {} charts with content, nothing on the console; screenshot {} ({size} bytes)",
            dom.matches("<svg").count(),
            screenshot.display()
        );
        Ok(())
    } else {
        bail!(
            "report.html did not render as it should:\n  {}",
            problems.join("\n  ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_without_its_sections_or_with_empty_charts_is_refused() {
        let shapes = "<circle/>".repeat(12);
        let chart = format!("<svg>{shapes}</svg>");
        let full = format!("{} {}", EXPECTED_TEXT.join(" "), chart.repeat(4));
        assert!(judge_dom(&full).is_empty(), "{:?}", judge_dom(&full));
        let empty = format!("{} {}<svg></svg>", EXPECTED_TEXT.join(" "), chart.repeat(4));
        assert_eq!(judge_dom(&empty), ["chart 5 has only 0 shapes drawn"]);
        let bare = chart.repeat(4);
        assert!(judge_dom(&bare).iter().any(|p| p.contains("\"Latency\"")));
    }
}
