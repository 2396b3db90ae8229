//! The stick's console UI (issue 4): a ratatui flow a biomedical technician can follow on a VGA
//! text console or a serial line, French by default.
//!
//! - [`app`]: state and event handling (`App::handle` -> `Action`), no I/O;
//! - [`render`]: `render(&App, &mut Frame)`, pure, snapshot-tested;
//! - [`i18n`]: French and English strings; [`keymap`]: built-in AZERTY/QWERTY tables;
//! - [`console`]: controlling tty, window size, keymap and log level on the real console;
//! - [`run`]: the UI child's event loop (input, scan messages, ticker; scan on its own thread).

pub mod app;
pub mod console;
pub mod i18n;
pub mod keymap;
pub mod probe;
pub mod render;
pub mod run;

pub use app::{Action, App, Event, Key, Screen};
pub use render::render;
