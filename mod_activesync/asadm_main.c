/* PLACEHOLDER: activesync-admin. */
int main(void) { return 0; }
