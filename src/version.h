#ifndef AGD_VERSION_H
#define AGD_VERSION_H
#define AGENTD_VERSION "0.1.0"
#endif
