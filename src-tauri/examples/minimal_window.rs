//! The baseline for the console benchmark: a minimal Tauri 2 window (same Tauri,
//! same WebKitGTK, an empty page (`ui/public/minimal.html`), none of the console's logic), so the console's
//! start-up time and memory can be reported as ratios to what any Tauri window
//! costs on the same machine in the same run. Prints `minimal window loaded` on
//! stderr when its page has loaded.

fn main() {
    let mut context = tauri::generate_context!();
    context.config_mut().app.windows.clear();
    tauri::Builder::default()
        .setup(|app| {
            tauri::WebviewWindowBuilder::new(
                app,
                "main",
                tauri::WebviewUrl::App("minimal.html".into()),
            )
            .title("Minimal")
            .inner_size(1200.0, 760.0)
            .on_page_load(|_, payload| {
                if matches!(payload.event(), tauri::webview::PageLoadEvent::Finished) {
                    eprintln!("minimal window loaded");
                }
            })
            .build()?;
            Ok(())
        })
        .run(context)
        .expect("the minimal window failed to start");
}
