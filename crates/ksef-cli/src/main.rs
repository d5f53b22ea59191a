//! The `ksef` command-line tool.
//!
//! Work in progress: the commands arrive with the CLI issue. Until then the binary only reports its
//! version, so that nothing pretends to talk to KSeF.
#![forbid(unsafe_code)]

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("--version") | Some("-V") => {
            println!("ksef {}", env!("CARGO_PKG_VERSION"));
        }
        _ => {
            eprintln!(
                "ksef {}: no commands are available yet in this build",
                env!("CARGO_PKG_VERSION")
            );
            std::process::exit(2);
        }
    }
}
