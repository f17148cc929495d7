//! The dashboard in a real browser: headless Chromium (Debian `chromium`,
//! driven through `chromedriver` by the fantoccini WebDriver client) opens
//! `/ui`, sees a held call appear without reloading, clicks Approve, and the
//! held request completes.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{http1, post_json, upstream, Sidecar};
use fantoccini::{ClientBuilder, Locator};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_chromedriver() -> (Driver, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver must be installed (tests/run.sh installs chromium-driver)");
    let driver = Driver(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (driver, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("chromedriver did not start");
}

/// A WebDriver session with headless Chromium.
/// Clicks the element `css` names, finding it again when the live page
/// re-rendered it between the find and the click (a stale element).
async fn click_live(browser: &fantoccini::Client, css: &str) {
    for _ in 0..20 {
        let element = browser.find(Locator::Css(css)).await.unwrap();
        match element.click().await {
            Ok(()) => return,
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("click {css}: {e}"),
        }
    }
    panic!("{css} kept being replaced for two seconds");
}

async fn open_browser(dir: &std::path::Path, port: u16) -> fantoccini::Client {
    let profile = dir.join("chromium-profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.display())],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with headless Chromium")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_call_appears_live_and_approve_in_the_browser_releases_it() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!(
            "[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{up}\"\ntool_path_prefix = \"/tools/\"\n"
        ),
    );
    let (_driver, port) = start_chromedriver();
    let browser = open_browser(dir.path(), port).await;

    browser.goto(&sidecar.admin_url("/ui")).await.unwrap();
    // The page is live before the call is made: it must appear without a reload.
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath("//div[@id='status' and text()='live']"))
        .await
        .expect("the dashboard connects its event stream");
    assert!(browser
        .find_all(Locator::Css("button.approve"))
        .await
        .unwrap()
        .is_empty());

    let url = sidecar.url("/tools/exec");
    let held = tokio::spawn(async move {
        let body = r#"{"command": "git push https://bot:ghp_0123456789abcdefghijABCDEFGHIJ012345@github.com/o/r main", "note": "<img id=injected src=x>"}"#;
        post_json(&http1(), &url, body).await
    });
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("button.approve"))
        .await
        .expect("the held call appears on the page without reloading");
    let row = browser
        .find(Locator::Css("#pending tr"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        row.contains("tool exec") && row.contains("git_publish"),
        "{row}"
    );
    // The call in full, secrets masked, values as text (no HTML from them).
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(
            "//tbody[@id='pending']//pre[contains(., 'git push')]",
        ))
        .await
        .expect("the review view shows the command");
    let row = browser
        .find(Locator::Css("#pending tr"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        row.contains("[masked]") && !row.contains("ghp_0123456789"),
        "{row}"
    );
    assert!(row.contains("<img id=injected src=x>"), "{row}");
    assert!(browser
        .find_all(Locator::Css("#injected"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(state.hits.load(Ordering::SeqCst), 0);
    click_live(&browser, "button.approve").await;

    let answer = tokio::time::timeout(Duration::from_secs(20), held)
        .await
        .expect("the held request completes after Approve")
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);
    // The decision moves to the recent list, live.
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(
            "//tbody[@id='decided']//td[text()='approved']",
        ))
        .await
        .expect("the decision shows under recent decisions");

    // A second call: filters hide and show it; the keyboard selects it and
    // jumps to its reason; Enter rejects with the typed reason.
    let url = sidecar.url("/tools/exec");
    let held = tokio::spawn(async move {
        post_json(&http1(), &url, r#"{"command": "git push origin main"}"#).await
    });
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("button.approve"))
        .await
        .expect("the second held call appears");
    let risk = browser.find(Locator::Id("f-risk")).await.unwrap();
    risk.select_by_value("low").await.unwrap();
    assert!(browser
        .find_all(Locator::Css("button.approve"))
        .await
        .unwrap()
        .is_empty());
    risk.select_by_value("").await.unwrap();
    browser
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .execute(
            "for (const k of ['j', 'r']) document.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true}));",
            vec![],
        )
        .await
        .unwrap();
    let reason = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("input.reason:focus"))
        .await
        .expect("`r` focuses the selected row's reason");
    reason.send_keys("not on a Friday\u{E007}").await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(20), held)
        .await
        .expect("the held request completes after the inline reject")
        .unwrap();
    assert_eq!(answer.status, 403);
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(
            "//tbody[@id='decided']//td[text()='not on a Friday']",
        ))
        .await
        .expect("the rejection and its reason show under recent decisions");
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn with_auth_on_the_dashboard_signs_in_and_another_origin_cannot_approve() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let token = dir.path().join("token.txt");
    std::fs::write(&token, "dashboard-token-0123456789\n").unwrap();
    let sidecar = Sidecar::start(
        dir.path(),
        &format!(
            "[gates.auth]\nmode = \"bearer\"\ntoken_file = \"{}\"\ntoken_principal = \"ops\"\n\n\
             [[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{up}\"\ntool_path_prefix = \"/tools/\"\n",
            token.display()
        ),
    );
    let url = sidecar.url("/tools/exec");
    let held = tokio::spawn(async move {
        let request = http::Request::post(url)
            .header("content-type", "application/json")
            .header("authorization", "Bearer dashboard-token-0123456789")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                br#"{"command": "git push origin main"}"#,
            )))
            .unwrap();
        common::collect(http1().request(request).await.unwrap()).await
    });
    let (_driver, port) = start_chromedriver();
    let browser = open_browser(dir.path(), port).await;

    // A page on another origin fires a blind no-cors POST at approve.
    let id = loop {
        let request = http::Request::get(sidecar.admin_url("/escalations?status=pending"))
            .header("authorization", "Bearer dashboard-token-0123456789")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let list = common::collect(http1().request(request).await.unwrap())
            .await
            .json();
        if let Some(id) = list["escalations"][0]["id"].as_str() {
            break id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let attack = format!(
        "data:text/html,<script>fetch('{}', {{method: 'POST', mode: 'no-cors', body: ''}}).finally(() => document.title = 'sent')</script>",
        sidecar.admin_url(&format!("/escalations/{id}/approve"))
    );
    browser.goto(&attack).await.unwrap();
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//title[text()='sent']"))
        .await
        .ok();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        state.hits.load(Ordering::SeqCst),
        0,
        "another origin approved a held call"
    );
    assert!(!held.is_finished());

    // The dashboard asks for the token, then works: the held call shows, Approve releases it.
    browser.goto(&sidecar.admin_url("/ui")).await.unwrap();
    let field = browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#login:not([hidden]) #token"))
        .await
        .expect("the dashboard asks for a token");
    field.send_keys("dashboard-token-0123456789").await.unwrap();
    browser
        .find(Locator::Css("#login button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("button.approve"))
        .await
        .expect("signed in, the held call shows");
    click_live(&browser, "button.approve").await;
    let answer = tokio::time::timeout(Duration::from_secs(20), held)
        .await
        .expect("the held request completes after Approve")
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);
    let decided = sidecar
        .tape()
        .into_iter()
        .find(|r| r["event"] == "escalation_decided")
        .unwrap();
    assert_eq!(decided["principal"], "ops");
    browser.close().await.unwrap();
}
