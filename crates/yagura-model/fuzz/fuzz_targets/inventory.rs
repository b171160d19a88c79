//! The inventory loader on arbitrary text: errors, never panics; a valid inventory's
//! visibility and address lookups work for every organization.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(inv) = yagura_model::Inventory::from_toml(text) {
        for o in inv.orgs() {
            let scope = inv.visible_from(o.id.as_str());
            assert!(scope.contains(o.id.as_str()));
            for net in &o.internal_networks {
                let _ = inv.addresses().classify(net.network());
            }
        }
    }
});
