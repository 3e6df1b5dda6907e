/* A private header of the fixture's provider/. */
int km_fixture_volume(void);
