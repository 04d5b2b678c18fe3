#SBATCH -J nobang
echo "no interpreter line"
