/* GnuTLS comes into the process with libcurl's dependencies (librtmp), and its constructor
 * initialises the library (its configuration, its random generator, PKCS #11 modules: about
 * 1 MB of resident memory) in every program that loads it, unless the program defines this
 * hook, which GnuTLS declares weak for that purpose. nyx never calls GnuTLS itself: libcurl
 * speaks TLS through OpenSSL here, and a library that does use GnuTLS (librtmp for an rtmp://
 * URL, libmicrohttpd when the simulator serves) calls gnutls_global_init itself, which this
 * does not skip. The symbol is exported from the executable (CMakeLists.txt). */
int _gnutls_global_init_skip(void);
int _gnutls_global_init_skip(void) { return 1; }
