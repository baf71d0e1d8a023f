int u_7448;
