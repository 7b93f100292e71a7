// SPDX-License-Identifier: GPL-2.0-only
/*
 * krsi_hide_early: krsi_hide under another name, loaded before the agent
 * starts (a module name can load only once, and a hidden one never leaves).
 */
#include "krsi_hide.c"
