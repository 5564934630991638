//! Misbehaving modules, compiled only with the `test-modules` feature, so that the agent's
//! end-to-end tests can check what happens to a module that never returns or that allocates
//! without limit.

use crate::{Context, Module, ModuleResult};
use serde_json::Value;

/// Ignores its deadline and sleeps forever: the agent must kill it.
pub struct Hang;

impl Module for Hang {
    const NAME: &'static str = "testhang";
    const ABOUT: &'static str = "test fixture: never returns";
    type Params = Value;

    fn validate(_: &Value) -> Result<(), String> {
        Ok(())
    }
    fn run(_: &Value, _: &Context) -> ModuleResult {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    fn parse_flags(_: &[String]) -> Result<Value, String> {
        Ok(Value::Object(Default::default()))
    }
    fn usage() -> String {
        String::new()
    }
    fn pretty(_: &ModuleResult, _: bool) -> Vec<String> {
        Vec::new()
    }
}

/// Allocates and touches memory until the allocator fails: the agent's cap must stop it.
pub struct Alloc;

impl Module for Alloc {
    const NAME: &'static str = "testalloc";
    const ABOUT: &'static str = "test fixture: allocates without limit";
    type Params = Value;

    fn validate(_: &Value) -> Result<(), String> {
        Ok(())
    }
    fn run(_: &Value, _: &Context) -> ModuleResult {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 16 << 20]);
            std::hint::black_box(&hoard);
        }
    }
    fn parse_flags(_: &[String]) -> Result<Value, String> {
        Ok(Value::Object(Default::default()))
    }
    fn usage() -> String {
        String::new()
    }
    fn pretty(_: &ModuleResult, _: bool) -> Vec<String> {
        Vec::new()
    }
}
