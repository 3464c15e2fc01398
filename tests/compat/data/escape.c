/* escape: one escape or abuse attempt per call, for tests/compat/test_escapes.py.
 * Built static at test time and run inside containers. Each command prints one line,
 * "OK ..." or "ERR <errno name>", and exits 0 or 1. Nothing here writes to a host file:
 * "openwr" opens for writing and closes without writing; "settz" sets the timezone to the
 * one the kernel already has. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case ETXTBSY: return "ETXTBSY";
    case EBUSY: return "EBUSY";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    case EAGAIN: return "EAGAIN";
    case ENOEXEC: return "ENOEXEC";
    case EFAULT: return "EFAULT";
    case EEXIST: return "EEXIST";
    case ENOMEM: return "ENOMEM";
    default: return "E?";
    }
}

static int fail(void) {
    printf("ERR %s\n", ename(errno));
    return 1;
}

static int ok(const char *what) {
    printf("OK%s%s\n", what[0] ? " " : "", what);
    return 0;
}

static int cap_eff(unsigned long long *caps) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", caps) == 1) { fclose(f); return 0; }
    fclose(f);
    return -1;
}

/* mount DIR: a 1 MiB tmpfs on DIR (unmounted again) */
static int do_mount(const char *dir) {
    if (mount("escape", dir, "tmpfs", 0, "size=1m") != 0) return fail();
    umount(dir);
    return ok("");
}

/* module: init_module of a buffer that is no module (the kernel refuses it once past the
 * permission check: ENOEXEC, or ENOSYS without module support) */
static int do_module(void) {
    static char junk[64] = "not a module";
    if (syscall(SYS_init_module, junk, sizeof junk, "") != 0) return fail();
    return ok("");
}

/* write PATH VALUE */
static int do_write(const char *path, const char *value) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return fail();
    if (write(fd, value, strlen(value)) < 0) return fail();
    close(fd);
    return ok("");
}

/* openwr PATH: open for writing, close, write nothing */
static int do_openwr(const char *path) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return fail();
    close(fd);
    return ok("");
}

/* read PATH: the first line of PATH (at most 64 bytes) */
static int do_read(const char *path) {
    char buf[65] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fail();
    ssize_t n = read(fd, buf, 64);
    if (n < 0) return fail();
    close(fd);
    buf[strcspn(buf, "\n")] = 0;
    return ok(buf);
}

/* mknodread PATH MAJOR MINOR: make a block device node, then read it as "read" does */
static int do_mknodread(const char *path, const char *major, const char *minor) {
    unlink(path);
    if (mknod(path, S_IFBLK | 0600, makedev(atoi(major), atoi(minor))) != 0) return fail();
    int r = do_read(path);
    unlink(path);
    return r;
}

/* settz: set the kernel's timezone to the one it has (CAP_SYS_TIME; changes nothing) */
static int do_settz(void) {
    struct timezone tz;
    struct timeval tv;
    if (gettimeofday(&tv, &tz) != 0) return fail();
    if (settimeofday(NULL, &tz) != 0) return fail();
    return ok("");
}

/* settime: set the clock to the time it has (only ever run where it must fail) */
static int do_settime(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (clock_settime(CLOCK_REALTIME, &now) != 0) return fail();
    return ok("");
}

/* userns: a new user namespace; then, as its root, a mount namespace with a tmpfs and a
 * hostname in the container's uts namespace (owned by the parent user namespace) */
static int do_userns(void) {
    unsigned long long caps = 0;
    char out[128];
    if (unshare(CLONE_NEWUSER) != 0) return fail();
    cap_eff(&caps);
    const char *m = "OK", *h = "OK";
    if (unshare(CLONE_NEWNS) != 0 || mount("escape", "/tmp", "tmpfs", 0, "size=1m") != 0)
        m = ename(errno);
    if (sethostname("escaped", 7) != 0) h = ename(errno);
    snprintf(out, sizeof out, "caps=%llx mount=%s sethostname=%s", caps, m, h);
    return ok(out);
}

/* ptrace PID: attach, wait for the stop, detach */
static int do_ptrace(const char *pid) {
    pid_t p = atoi(pid);
    if (ptrace(PTRACE_ATTACH, p, 0, 0) != 0) return fail();
    waitpid(p, NULL, __WALL);
    ptrace(PTRACE_DETACH, p, 0, 0);
    return ok("");
}

/* kill0 PID */
static int do_kill0(const char *pid) {
    if (kill(atoi(pid), 0) != 0) return fail();
    return ok("");
}

/* fds PID: "N target" for each fd of PID, but for the directory this reads */
static int do_fds(const char *pid) {
    char dir[64], link[320], target[256];
    snprintf(dir, sizeof dir, "/proc/%s/fd", pid);
    DIR *d = opendir(dir);
    if (!d) return fail();
    struct dirent *e;
    printf("OK\n");
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) continue;
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = 0;
        printf("%s %s\n", e->d_name, n < 0 ? ename(errno) : target);
    }
    closedir(d);
    return 0;
}

/* watch SECONDS [PID]: for SECONDS, look at every process's (or PID's) /proc/PID/exe; for
 * each one whose file is not on this container's root filesystem (a runtime's, a shim's,
 * the host's), print once "PID TARGET path=OK wr=<reopen for writing> fd=<its fd dir>
 * N:TARGET... CapEff: Seccomp: mem=<ptrace's access check>" (CVE-2019-5736 needs
 * the open; CVE-2024-21626 the fds). A reopen for writing is closed at once: nothing is
 * ever written. A process it may not look at is printed once as "PID denied ...". */
static int do_watch(const char *seconds, const char *only) {
    struct stat root;
    static char seen[1 << 22], denied[1 << 22];
    time_t end = time(NULL) + atoi(seconds);
    if (stat("/", &root) != 0) return fail();
    printf("OK\n");
    fflush(stdout);
    while (time(NULL) < end) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            int pid = atoi(e->d_name);
            if (pid <= 0 || pid == getpid() || (only && pid != atoi(only)) || pid >= (int)sizeof seen || seen[pid]) continue;
            char exe[64], fdp[64], target[256] = "?";
            struct stat st;
            snprintf(exe, sizeof exe, "/proc/%d/exe", pid);
            int fd = open(exe, O_PATH);
            if (fd < 0) {
                if ((errno == EACCES || errno == EPERM) && !denied[pid]) {
                    /* a process we may not look at (yet: tried again and again) */
                    denied[pid] = 1;
                    printf("%d denied path=ERR %s\n", pid, ename(errno));
                    fflush(stdout);
                }
                continue;
            }
            if (fstat(fd, &st) != 0 || st.st_dev == root.st_dev) { close(fd); continue; }
            seen[pid] = 1;
            ssize_t n = readlink(exe, target, sizeof target - 1);
            target[n < 0 ? 0 : n] = 0;
            char self[64];
            snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
            int wr = open(self, O_WRONLY);
            const char *w = wr >= 0 ? "OK" : ename(errno);
            if (wr >= 0) close(wr);
            snprintf(fdp, sizeof fdp, "/proc/%d/fd", pid);
            DIR *fds = opendir(fdp);
            const char *f = fds ? "OK" : ename(errno);
            printf("%d %s path=OK wr=%s fd=%s", pid, target, w, f);
            struct dirent *fe;
            while (fds && (fe = readdir(fds)) != NULL) {
                char fl[384], ft[256];
                if (fe->d_name[0] == '.') continue;
                snprintf(fl, sizeof fl, "%s/%s", fdp, fe->d_name);
                ssize_t m = readlink(fl, ft, sizeof ft - 1);
                ft[m < 0 ? 0 : m] = 0;
                printf(" %s:%s", fe->d_name, m < 0 ? ename(errno) : ft);
            }
            if (fds) closedir(fds);
            char sp[64], line[256];
            snprintf(sp, sizeof sp, "/proc/%d/status", pid);
            FILE *sf = fopen(sp, "r");
            while (sf && fgets(line, sizeof line, sf))
                if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "Seccomp:", 8)) {
                    line[strcspn(line, "\n")] = 0;
                    printf(" %s", line);
                }
            if (sf) fclose(sf);
            /* /proc/PID/mem opens with ptrace's own check (PTRACE_MODE_ATTACH), without
             * stopping the process as an attach would */
            char memp[64];
            snprintf(memp, sizeof memp, "/proc/%d/mem", pid);
            int mem = open(memp, O_RDONLY);
            printf(" mem=%s\n", mem >= 0 ? "OK" : ename(errno));
            if (mem >= 0) close(mem);
            fflush(stdout);
            close(fd);
        }
        if (d) closedir(d);
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *c = argc > 1 ? argv[1] : "";
    if (!strcmp(c, "mount") && argc == 3) return do_mount(argv[2]);
    if (!strcmp(c, "module")) return do_module();
    if (!strcmp(c, "write") && argc == 4) return do_write(argv[2], argv[3]);
    if (!strcmp(c, "openwr") && argc == 3) return do_openwr(argv[2]);
    if (!strcmp(c, "read") && argc == 3) return do_read(argv[2]);
    if (!strcmp(c, "mknodread") && argc == 5) return do_mknodread(argv[2], argv[3], argv[4]);
    if (!strcmp(c, "settz")) return do_settz();
    if (!strcmp(c, "settime")) return do_settime();
    if (!strcmp(c, "userns")) return do_userns();
    if (!strcmp(c, "ptrace") && argc == 3) return do_ptrace(argv[2]);
    if (!strcmp(c, "kill0") && argc == 3) return do_kill0(argv[2]);
    if (!strcmp(c, "fds") && argc == 3) return do_fds(argv[2]);
    if (!strcmp(c, "watch") && (argc == 3 || argc == 4))
        return do_watch(argv[2], argc == 4 ? argv[3] : NULL);
    fprintf(stderr, "usage: escape mount|module|write|openwr|read|mknodread|settz|settime|"
                    "userns|ptrace|kill0|fds|watch ...\n");
    return 2;
}
