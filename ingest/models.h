/* models.h: the built-in registry of well-known model names and the licence
 * their outputs come under (ids from query/licence.h's registry: "llama3",
 * "apache-2.0", "openai-terms", ...). Users extend it per store with
 * `aviary model set NAME --licence ID`, which ingest never overrides. */
#ifndef AV_INGEST_MODELS_H
#define AV_INGEST_MODELS_H

/* The licence id for a model name ("meta-llama/Meta-Llama-3-70B-Instruct" ->
 * "llama3"), matched case-insensitively on the name after its last '/';
 * NULL when the name is not one the registry knows (never a guess). */
const char *av_model_licence_builtin(const char *name);

#endif
