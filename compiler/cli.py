def main(argv=None):
    print("stub")
    return 0
