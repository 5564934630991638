//! mig-server: the platform (API, scheduler, built-in relay). Built by the server issue.

fn main() {
    eprintln!("mig-server: not yet available (the server is being built; see README.md)");
    std::process::exit(2);
}
