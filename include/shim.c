/*
 * C shim of app_otrsticket. AST_MODULE_INFO must be expanded by a C compiler
 * against the same headers Asterisk was built with: it records the GPL key
 * and AST_BUILDOPT_SUM, which the loader checks.
 */
#define AST_MODULE "app_otrsticket"
#define AST_MODULE_SELF_SYM __internal_app_otrsticket_self

#include <asterisk.h>
#include <asterisk/module.h>
#include <asterisk/pbx.h>
#include <asterisk/channel.h>
#include <asterisk/cli.h>
#include <asterisk/logger.h>
#include <asterisk/paths.h>
#include <asterisk/strings.h>
#include <asterisk/manager.h>
#include <asterisk/chanvars.h>
#include <asterisk/linkedlists.h>
#include <asterisk/utils.h>
#include <asterisk/xmldoc.h>

#include "shim.h"

/* Implemented in Rust (src/asterisk/module.rs), each guarded against panics. */
extern int otrs_rs_load(void);
extern int otrs_rs_unload(void);
extern int otrs_rs_reload(void);

static enum ast_module_load_result load_module(void)
{
	return (enum ast_module_load_result) otrs_rs_load();
}

static int unload_module(void)
{
	return otrs_rs_unload();
}

static int reload_module(void)
{
	return otrs_rs_reload();
}

struct ast_module *otrs_shim_self(void)
{
	return AST_MODULE_SELF;
}

void otrs_shim_log(int level, const char *file, int line, const char *func, const char *msg)
{
	ast_log(level, file, line, func, "%s\n", msg);
}

void otrs_shim_verb(int level, const char *msg)
{
	/* ast_verb() by hand: its __FILE__ would put this file's path in the
	 * log where the module's name belongs (as otrs_shim_log gets it). */
	if (VERBOSITY_ATLEAST(level)) {
		__ast_verbose("app_otrsticket", 0, "", level, "%s\n", msg);
	}
}

void otrs_shim_channel_lock(struct ast_channel *chan)
{
	ast_channel_lock(chan);
}

void otrs_shim_channel_unlock(struct ast_channel *chan)
{
	ast_channel_unlock(chan);
}

int otrs_shim_caller_number(struct ast_channel *chan, char *buf, size_t len)
{
	int found = 0;
	struct ast_party_caller *caller;

	if (!len) {
		return 0;
	}
	buf[0] = '\0';
	ast_channel_lock(chan);
	caller = ast_channel_caller(chan);
	if (caller && caller->id.number.valid && caller->id.number.str) {
		ast_copy_string(buf, caller->id.number.str, len);
		found = 1;
	}
	ast_channel_unlock(chan);
	return found;
}

int otrs_shim_getvar(struct ast_channel *chan, const char *name, char *buf, size_t len)
{
	int found = 0;
	const char *value;

	if (!len) {
		return 0;
	}
	buf[0] = '\0';
	ast_channel_lock(chan);
	value = pbx_builtin_getvar_helper(chan, name);
	if (value) {
		ast_copy_string(buf, value, len);
		found = 1;
	}
	ast_channel_unlock(chan);
	return found;
}

/* Sets (replaces) channel variables under one channel lock, the way
 * pbx_builtin_setvar_helper does ("_"/"__" prefixes kept for inheritance and
 * ignored when finding the old value), but without one VarSet stasis message
 * per variable: each of those becomes an AMI/ARI event that Asterisk formats
 * with the whole channel state, which cost more CPU per call than the rest of
 * OTRSTicket() together. The OTRSTicket AMI event carries the same values.
 * Checked against pbx_builtin_setvar_helper() in main/pbx_variables.c and
 * against its machine code in Debian's 16.28 and 22.10 asterisk binaries
 * (the same in both: lock, strip up to two leading '_' to compare, remove
 * the first match, _ast_var_assign(name, value), insert at the head,
 * ast_channel_publish_varset(), unlock; only the publish is left out here). Every call used
 * is public API in both series: ast_channel_varshead, ast_var_name,
 * ast_var_delete, ast_var_assign (a macro over _ast_var_assign). */
void otrs_shim_set_vars_quiet(struct ast_channel *chan, const char *const *names,
                              const char *const *values, size_t count)
{
	struct varshead *headp;
	struct ast_var_t *var;
	size_t i;

	ast_channel_lock(chan);
	headp = ast_channel_varshead(chan);
	for (i = 0; i < count; i++) {
		const char *tail = names[i];

		if (*tail == '_') {
			tail++;
			if (*tail == '_') {
				tail++;
			}
		}
		AST_LIST_TRAVERSE_SAFE_BEGIN(headp, var, entries) {
			if (strcmp(ast_var_name(var), tail) == 0) {
				AST_LIST_REMOVE_CURRENT(entries);
				ast_var_delete(var);
				break;
			}
		}
		AST_LIST_TRAVERSE_SAFE_END;
		if ((var = ast_var_assign(names[i], values[i]))) {
			AST_LIST_INSERT_HEAD(headp, var, entries);
		}
	}
	ast_channel_unlock(chan);
}

/* With the module's XML documentation installed (thirdparty/app_otrsticket-en_US.xml,
 * read when Asterisk starts) the application is registered without texts, so
 * Asterisk takes Synopsis, Syntax, Arguments and Since from the XML (pbx_app.c
 * uses the XML only when both texts are empty, in 16 as in 22); without it,
 * the built-in texts. */
int otrs_shim_register_app(const char *name, int (*exec)(struct ast_channel *, const char *),
                           const char *synopsis, const char *description)
{
#ifdef AST_XML_DOCS
	char *xml = ast_xmldoc_build_synopsis("application", name, AST_MODULE);

	if (!ast_strlen_zero(xml)) {
		synopsis = NULL;
		description = NULL;
	}
	ast_free(xml);
#endif
	return ast_register_application2(name, exec, synopsis, description, AST_MODULE_SELF);
}

int otrs_shim_cli_register(struct ast_cli_entry *entries, int count)
{
	return __ast_cli_register_multiple(entries, count, AST_MODULE_SELF);
}

void otrs_shim_manager_event(const char *event, const char *body)
{
	manager_event(EVENT_FLAG_CALL, event, "%s", body);
}

char *otrs_shim_strdup(const char *s)
{
	return ast_strdup(s);
}

const char *otrs_shim_spool_dir(void)
{
	return ast_config_AST_SPOOL_DIR;
}

const char *otrs_shim_system_name(void)
{
	return ast_config_AST_SYSTEM_NAME ? ast_config_AST_SYSTEM_NAME : "";
}

void otrs_shim_entity_id(char *buf, int len)
{
	if (len > 0) {
		buf[0] = '\0';
		ast_eid_to_str(buf, len, &ast_eid_default);
	}
}

AST_MODULE_INFO(ASTERISK_GPL_KEY, AST_MODFLAG_LOAD_ORDER, "OTRS ticket for incoming calls",
	.support_level = AST_MODULE_SUPPORT_EXTENDED,
	.load = load_module,
	.unload = unload_module,
	.reload = reload_module,
	.load_pri = AST_MODPRI_DEFAULT,
);
