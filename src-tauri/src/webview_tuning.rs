//! How the console asks WebKitGTK to paint: the one process-wide knob the
//! console sets for itself, before GTK starts.
//!
//! WebKitGTK (2.46 and later) paints each tile on worker threads that each hold
//! their own GL context; with no GPU (a VM, a remote desktop, Xvfb) that context
//! is Mesa's software rasteriser, and the console's table-heavy screens pay about
//! 30 MiB for it in the web process (measured by `scripts/console-bench.sh`:
//! 216 → 183 MiB) for no visible gain — the console scrolls tables, it does not
//! animate. Painting on the compositing thread instead is WebKit's own switch,
//! `WEBKIT_SKIA_GPU_PAINTING_THREADS=0`. A value the person set wins.

/// The variable and the value the console wants, when the person set none.
pub const GPU_PAINTING_THREADS: (&str, &str) = ("WEBKIT_SKIA_GPU_PAINTING_THREADS", "0");

/// Sets WebKit's painting knob unless the environment already names it. Call
/// first in `main`, while the process has one thread.
pub fn apply() {
    #[cfg(target_os = "linux")]
    {
        let (name, value) = GPU_PAINTING_THREADS;
        if std::env::var_os(name).is_none() {
            // SAFETY: called at the top of `main`, before any other thread
            // exists, so nothing reads the environment concurrently.
            unsafe { std::env::set_var(name, value) };
        }
    }
}
