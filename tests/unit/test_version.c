/* The version: one source (the three numbers in vitc.h), the string macro and the library agree. */
#include "check.h"
#include "vitc.h"

int main(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", VITC_VERSION_MAJOR, VITC_VERSION_MINOR, VITC_VERSION_PATCH);
    CHECK(!strcmp(VITC_VERSION, want), "VITC_VERSION \"%s\" against the numbers %s", VITC_VERSION, want);
    CHECK(vitc_version() != NULL && !strcmp(vitc_version(), VITC_VERSION), "vitc_version() \"%s\"",
          vitc_version() ? vitc_version() : "(null)");
    CHECK(VITC_VERSION_MAJOR >= 0 && VITC_VERSION_MINOR >= 0 && VITC_VERSION_PATCH >= 0, "non-negative numbers");
    return check_report("test_version");
}
