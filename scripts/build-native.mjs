#!/usr/bin/env node
// Placeholder until the native addon lands: nothing to build yet.
console.log("icl-lab: native addon not yet part of this build");
