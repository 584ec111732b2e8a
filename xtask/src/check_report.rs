//! `cargo xtask check-report`: makes two runs' `report.html` (a partitioned simulated run of
//! stage 05, and Glomers 6b's transactions judged serializable, which they are not) and checks
//! each in a real browser: headless Chromium renders it, and the check fails unless the page
//! logged nothing to the console, every section's text is there, every chart is an SVG with
//! content, every cycle graph has an arrow per transaction, and the screenshot is not blank.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use grader::config::TestConfig;

/// How long Chromium may take for one page.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// Text every page must show.
const EXPECTED_TEXT: &[&str] = &[
    "Configuration",
    "Repeat it with",
    "Latency",
    "Messages sent per second",
    "Messages between nodes",
    "The workload's figures",
    "partition",
];

/// One page to check: a run made in the simulation, and the text it must show besides
/// [`EXPECTED_TEXT`].
struct Page {
    name: &'static str,
    flags: &'static str,
    expected: &'static [&'static str],
    simulate: fn(&TestConfig, &Path, String) -> anyhow::Result<grader::run::TestRun>,
}

const PAGES: &[Page] = &[
    Page {
        name: "stage-05",
        flags: "--node-count 5 --time-limit 10 --rate 20 --latency 50 --latency-dist constant --nemesis partition --nemesis-interval 2 --recovery 3 --seed 1",
        expected: &["Convergence"],
        simulate: |config, store, reproduce| {
            grader::sim::simulate_to_store::<stage_05_partition_healing::PartitionHealing>(
                config,
                &[],
                store,
                reproduce,
            )
        },
    },
    Page {
        name: "glomers-6b",
        flags: "-w txn-rw-register --node-count 2 --concurrency 2n --time-limit 5 --rate 200 --consistency-models serializable --availability total --nemesis partition --seed 1",
        expected: &[
            "Why the transactions are not valid",
            "lost-update",
            "rw key",
        ],
        simulate: |config, store, reproduce| {
            grader::sim::simulate_to_store::<glomers_6b_txn::ReplicatedStore>(
                config,
                &[],
                store,
                reproduce,
            )
        },
    },
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

/// What a rendered DOM must hold (`expected` besides [`EXPECTED_TEXT`]); the problems found,
/// in words. Charts need ten shapes; a cycle graph, an arrow per transaction.
pub fn judge_dom(dom: &str, expected: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for text in EXPECTED_TEXT.iter().chain(expected) {
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
        let (tag, body) = svg.split_once('>').unwrap_or((svg, ""));
        let body = body.split("</svg>").next().unwrap_or("");
        if tag.contains("cycle-graph") {
            let (nodes, arrows) = (
                body.matches("<circle").count(),
                body.matches("marker-end").count(),
            );
            if nodes < 2 || arrows != nodes {
                problems.push(format!(
                    "cycle graph {} has {nodes} transactions and {arrows} arrows",
                    index + 1
                ));
            }
            continue;
        }
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

/// Makes each page's run, renders its report in Chromium, and checks it. The screenshot of
/// the first page is copied to `keep_screenshot` if given.
pub fn check_report(keep_screenshot: Option<&Path>) -> anyhow::Result<()> {
    let browser = chromium()?;
    let root = crate::workspace_root();
    let mut failed = Vec::new();
    for (at, page) in PAGES.iter().enumerate() {
        let store = root.join("store").join("check-report").join(page.name);
        let config = TestConfig::parse_command(page.flags).expect("valid flags");
        let reproduce = config.reproduce_command(&format!("cargo xtask sim {}", page.name), &[]);
        let run = (page.simulate)(&config, &store, reproduce)?;
        let keep = if at == 0 { keep_screenshot } else { None };
        if let Err(error) = check_page(&browser, &run.store.join("report.html"), page, keep) {
            failed.push(format!("{}: {error:#}", page.name));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("{}", failed.join("\n"))
    }
}

fn check_page(
    browser: &Path,
    page: &Path,
    what: &Page,
    keep_screenshot: Option<&Path>,
) -> anyhow::Result<()> {
    println!("checking {} in {}", page.display(), browser.display());
    let (dom, stderr) = run_browser(browser, page, &["--dump-dom".into()])?;
    let mut problems = judge_dom(&dom, what.expected);
    for line in stderr.lines().filter(|line| line.contains("CONSOLE")) {
        problems.push(format!("the page logged to the console: {line}"));
    }
    let screenshot = page.with_file_name("report.png");
    run_browser(
        browser,
        page,
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
            "{}: report.html rendered in Chromium: every section, {} charts with content, nothing on the console; screenshot {} ({size} bytes)",
            what.name,
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
        assert!(
            judge_dom(&full, &[]).is_empty(),
            "{:?}",
            judge_dom(&full, &[])
        );
        let empty = format!("{} {}<svg></svg>", EXPECTED_TEXT.join(" "), chart.repeat(4));
        assert_eq!(judge_dom(&empty, &[]), ["chart 5 has only 0 shapes drawn"]);
        let bare = chart.repeat(4);
        assert!(
            judge_dom(&bare, &[])
                .iter()
                .any(|p| p.contains("\"Latency\""))
        );
        assert_eq!(
            judge_dom(&full, &["G2-item"]),
            ["the page does not show \"G2-item\""]
        );
        // A cycle graph needs an arrow per transaction, not ten shapes.
        let arrow = "<path marker-end=\"url(#a)\"/>";
        let cycle = format!("<svg class=\"cycle-graph\"><circle/><circle/>{arrow}{arrow}</svg>");
        assert!(judge_dom(&format!("{full}{cycle}"), &[]).is_empty());
        let broken = format!("<svg class=\"cycle-graph\"><circle/><circle/>{arrow}</svg>");
        assert_eq!(
            judge_dom(&format!("{full}{broken}"), &[]),
            ["cycle graph 5 has 2 transactions and 1 arrows"]
        );
    }
}
