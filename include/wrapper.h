/* Input to bindgen: the Asterisk declarations the module uses. */
#define AST_MODULE "app_otrsticket"
#define AST_MODULE_SELF_SYM __internal_app_otrsticket_self
#include <asterisk.h>
#include <asterisk/module.h>
#include <asterisk/pbx.h>
#include <asterisk/channel.h>
#include <asterisk/cli.h>
#include <asterisk/config.h>
#include <asterisk/logger.h>
#include <asterisk/app.h>
#include <asterisk/utils.h>
#include <asterisk/manager.h>
#include <asterisk/ast_version.h>
#include "shim.h"
