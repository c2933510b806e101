/*
 * commands.h: the client commands of the command line, talking to a running server.
 */
#ifndef AGD_COMMANDS_H
#define AGD_COMMANDS_H

int cmd_agents(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* Exit codes of `agentd run` (documented in docs/cli.md). */
enum run_exit {
	RUN_OK = 0,
	RUN_FAILED = 1,
	RUN_USAGE = 2,
	RUN_CANCELLED = 3,
	RUN_TIMEOUT = 4,
	RUN_AUTH = 5,
	RUN_ERROR = 6,
};

#endif
