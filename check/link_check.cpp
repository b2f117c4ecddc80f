// Linked once per library layer with that layer's whole archive and only the layers it may
// use (CMakeLists.txt): the link fails when the layer calls into a layer above it.
int main() { return 0; }
