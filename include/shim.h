/*
 * The small C side of app_otrsticket: only what Asterisk offers as macros or
 * static inlines (module registration, channel locking, logging with a
 * format string), so the Rust side calls plain functions.
 */
#ifndef OTRS_SHIM_H
#define OTRS_SHIM_H

#include <stddef.h>

struct ast_channel;
struct ast_module;
struct ast_cli_entry;

/* The module handle Asterisk gave us (AST_MODULE_SELF). */
struct ast_module *otrs_shim_self(void);

/* ast_log with a fixed "%s" format: the message is never a format string. */
void otrs_shim_log(int level, const char *file, int line, const char *func, const char *msg);
/* ast_verb(level, "%s\n", msg), logged as from file "app_otrsticket" */
void otrs_shim_verb(int level, const char *msg);

void otrs_shim_channel_lock(struct ast_channel *chan);
void otrs_shim_channel_unlock(struct ast_channel *chan);

/* Copies the caller ID number (if valid) into buf under the channel lock.
 * Returns 1 when a valid number was present, 0 otherwise. */
int otrs_shim_caller_number(struct ast_channel *chan, char *buf, size_t len);

/* Copies a channel variable into buf under the channel lock. Returns 1 when set. */
int otrs_shim_getvar(struct ast_channel *chan, const char *name, char *buf, size_t len);

/* Sets channel variables under one lock without a VarSet event each
 * (pbx_builtin_setvar_helper semantics otherwise). */
void otrs_shim_set_vars_quiet(struct ast_channel *chan, const char *const *names,
                              const char *const *values, size_t count);

int otrs_shim_register_app(const char *name, int (*exec)(struct ast_channel *, const char *),
                           const char *synopsis, const char *description);
int otrs_shim_cli_register(struct ast_cli_entry *entries, int count);

/* manager_event(EVENT_FLAG_CALL, event, "%s", body): body is "Key: Value\r\n" lines. */
void otrs_shim_manager_event(const char *event, const char *body);

/* ast_strdup: a string Asterisk frees itself (a CLI completion). */
char *otrs_shim_strdup(const char *s);

/* The Asterisk spool directory (ast_config_AST_SPOOL_DIR). */
const char *otrs_shim_spool_dir(void);

/* asterisk.conf's systemname (ast_config_AST_SYSTEM_NAME); "" when unset. */
const char *otrs_shim_system_name(void);

/* This Asterisk's entity ID (ast_eid_default) as aa:bb:cc:dd:ee:ff into buf. */
void otrs_shim_entity_id(char *buf, int len);

#endif
