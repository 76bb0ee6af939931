//! Runnel connectors: sources and sinks (Kafka, files, datagen, print, blackhole) behind the engine's
//! source and sink traits. Empty until the streaming issues add the first connectors; it exists so
//! the dependency direction `connectors -> engine` of DESIGN.md is fixed from the start.
