//! mig-agent: the endpoint agent. Built by the agent issue.

fn main() {
    eprintln!("mig-agent: not yet available (see README.md)");
    std::process::exit(2);
}
