/** Every differentiable op of the engine. */
export * from "./elementwise.ts";
export * from "./linalg.ts";
export * from "./shape.ts";
export * from "./reduce.ts";
export * from "./nn.ts";
export * from "./recurrent.ts";
